"""The project's pages link to what exists: every relative link in the README and docs/ names a file or folder of the
repository, and every ``#anchor`` into a Markdown page names one of its headings (GitHub's slugs)."""

from __future__ import annotations

import json
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


# The per-model camera table (README "The camera path", docs/results.md): each row's figures are copied from the
# benchmark report its first cell links to; they must be that report's (results.json beside report.md).
CAMERA_TABLE = "| int8 model | dataset crops | BlazeFace calibrated crops | shortfall |"


def camera_cells(results: dict) -> list[str]:
    """A camera table row's figures as the report's results.json gives them (the BlazeFace row of its camera part)."""
    row = next(r for r in results["camera"]["rows"] if r["detector"] == "blazeface")
    crops, steady, change = row["crops"], row["steady"], row["change"]
    return [f"{100 * crops['acc_dataset']:.1f}", f"{100 * crops['acc_calibrated']:.1f}",
            f"{-crops['calibrated_minus_dataset_pp']:.2f}",
            f"{steady['changes_per_minute']:.0f} ({steady['raw_changes_per_minute']:.0f})",
            f"{change['median_all_s']:.2f} ({change['within_target']} / {change['followed']} / "
            f"{change['classifier_agrees']})",
            f"{row['pipeline']['fps']:.0f}"]


def stale_camera_rows(page: Path) -> list[str]:
    """Each camera-table row of ``page`` whose figures are not those of the report it links to."""
    lines = page.read_text(encoding="utf-8").splitlines()
    stale = []
    for i, line in enumerate(lines):
        if not line.startswith(CAMERA_TABLE):
            continue
        for row in lines[i + 2:]:
            if not row.startswith("|"):
                break
            cells = [c.strip() for c in row.strip().strip("|").split("|")]
            link = re.search(r"\]\(([^)]+)/report\.md\)", cells[0])
            if link is None:
                stale.append(f"{cells[0]}: links to no report")
                continue
            results = (page.parent / link.group(1) / "results.json").resolve()
            expected = camera_cells(json.loads(results.read_text(encoding="utf-8")))
            if cells[1:] != expected:
                stale.append(f"{cells[0]}: {cells[1:]} but the report says {expected}")
    return stale


@pytest.mark.parametrize("page", pages(ROOT), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_camera_tables_figures_are_their_reports(page: Path):
    assert stale_camera_rows(page) == [], f"{page.relative_to(ROOT)}: camera table rows not from their reports"


def test_a_camera_row_that_differs_from_its_report_is_found(tmp_path: Path):
    report = tmp_path / "results" / "r"
    report.mkdir(parents=True)
    (report / "report.md").write_text("# r\n", encoding="utf-8")
    (report / "results.json").write_text(json.dumps({"camera": {"rows": [{
        "detector": "blazeface",
        "crops": {"acc_dataset": 0.716, "acc_calibrated": 0.705, "calibrated_minus_dataset_pp": -1.18},
        "steady": {"changes_per_minute": 0.0, "raw_changes_per_minute": 128.0},
        "change": {"median_all_s": 0.3333, "within_target": 18, "followed": 19, "classifier_agrees": 24},
        "pipeline": {"fps": 181.96}}]}}), encoding="utf-8")
    row = "| unweighted ([report](results/r/report.md)) | 71.6 | 70.5 | 1.18 | 0 (128) | 0.33 (18 / 19 / 24) | 182 |"
    page = tmp_path / "README.md"
    header = CAMERA_TABLE + " steady | reaction | FPS |\n|---|--:|--:|--:|--:|--:|--:|\n"
    page.write_text(header + row + "\n\nafter\n", encoding="utf-8")
    assert stale_camera_rows(page) == []
    page.write_text(header + row.replace("1.18", "0.98") + "\n", encoding="utf-8")
    assert stale_camera_rows(page) == ["unweighted ([report](results/r/report.md)): ['71.6', '70.5', '0.98', "
                                       "'0 (128)', '0.33 (18 / 19 / 24)', '182'] but the report says ['71.6', "
                                       "'70.5', '1.18', '0 (128)', '0.33 (18 / 19 / 24)', '182']"]


def test_the_readme_has_its_camera_table():
    """So the check above cannot pass by the table's header changing under it."""
    assert CAMERA_TABLE in (ROOT / "README.md").read_text(encoding="utf-8")
