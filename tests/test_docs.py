"""The project's pages link to what exists: every relative link in the README and docs/ names a file or folder of the
repository, and every ``#anchor`` into a Markdown page names one of its headings (GitHub's slugs)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def pages(root: Path) -> list[Path]:
    """The hand-written pages: the README, docs/ and the benchmarks' README (deploy/README-pi.md is the bundle's own
    README, whose links are the bundle's)."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md")), root / "benchmarks" / "README.md"]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#+\s+(.+)$", text, re.M)}


def broken_links(page: Path, root: Path) -> list[str]:
    """Each link of ``page`` that names no existing path under ``root`` or no heading of the page it points into."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    broken = []
    for m in LINK.finditer(text):
        target = m.group(1)
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.is_relative_to(root.resolve()) or not dest.exists():
            broken.append(f"{target} (no such path)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target} (no heading '#{anchor}' in {dest.relative_to(root.resolve())})")
    return broken


@pytest.mark.parametrize("page", pages(ROOT), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path):
    assert page.is_file(), f"{page} is missing"
    assert broken_links(page, ROOT) == [], f"{page.relative_to(ROOT)}: broken links"


def test_a_broken_link_and_a_missing_anchor_are_found(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# Results in detail\n\n## The camera path\n", encoding="utf-8")
    page = tmp_path / "README.md"
    page.write_text("[ok](docs/a.md#the-camera-path) [gone](docs/b.md) [anchor](docs/a.md#the-study)\n"
                    "[web](https://example.com/x) [self](#top)\n```\n[in code](nowhere.md)\n```\n# Top\n",
                    encoding="utf-8")
    assert broken_links(page, tmp_path) == ["docs/b.md (no such path)",
                                            "docs/a.md#the-study (no heading '#the-study' in docs/a.md)"]
