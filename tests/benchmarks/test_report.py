"""benchmarks.report renders results.json into report.md: a golden pair (tests/fixtures/report/, a copy of the
benchmark report of session 33, benchmarks/results/vm-20261206-0612) must come out byte for byte. A deliberate change
of the report's wording updates the pair: render the fixture's results.json again and review the diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.report import render_markdown

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "report"


def test_the_golden_results_render_to_the_golden_report() -> None:
    results = json.loads((GOLDEN / "results.json").read_text(encoding="utf-8"))
    expected = (GOLDEN / "report.md").read_text(encoding="utf-8")
    rendered = render_markdown(results)
    if rendered != expected:
        import difflib

        diff = "".join(difflib.unified_diff(expected.splitlines(True), rendered.splitlines(True), "golden",
                                            "rendered", n=1))
        pytest.fail(f"report.md differs from the golden one:\n{diff[:4000]}")


def test_a_report_from_before_the_strict_reaction_measure_shows_it_missing_not_never() -> None:
    """results.json written before median_all_s existed: its median is unknown ("–"), not "never followed"."""
    results = json.loads((GOLDEN / "results.json").read_text(encoding="utf-8"))
    for row in results["camera"]["rows"]:
        row["change"].pop("median_all_s", None)
        row["change"].pop("within_target", None)
    table = render_markdown(results).split("## Camera path")[1]
    blazeface = next(line for line in table.splitlines() if line.startswith("| blazeface |"))
    assert "never" not in blazeface and "| – / 0.42 (–/17/23/32) |" in blazeface, blazeface
