"""The README's results block is exactly what `make readme` generates from the committed manifest and study."""

from __future__ import annotations

from pathlib import Path

import pytest

from train import results


def test_readme_block_matches_committed_outputs(repo_root: Path):
    readme = repo_root / "README.md"
    if not (repo_root / "models" / "manifest.json").is_file():
        pytest.skip("no models/manifest.json")
    expected = results.render(repo_root / "models", results.default_studies(repo_root), repo_root)
    assert results.generated_block(readme.read_text()) == expected, (
        "README results block is stale: run `make readme` after `make convert` / `make study`"
    )


def test_generated_block_requires_markers():
    with pytest.raises(ValueError, match="markers"):
        results.generated_block("no markers here")
