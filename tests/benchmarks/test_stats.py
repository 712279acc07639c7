"""Statistics helpers (``benchmarks.stats``): summaries and the paired interval of an accuracy difference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.stats import paired_interval_pp, summarize


def test_summary_of_values_and_of_none() -> None:
    s = summarize([4.0, 1.0, 3.0, 2.0])
    assert (s["n"], s["median"], s["mean"], s["min"], s["max"]) == (4, 2.5, 2.5, 1.0, 4.0)
    assert s["p95"] == pytest.approx(np.percentile([1, 2, 3, 4], 95))
    assert summarize([])["median"] is None


def test_paired_interval_of_an_accuracy_difference() -> None:
    """Per-face differences 1, 0, 0, -1 ... by hand: mean 0.25, sd of (1,1,0,0,0,0,0,-1)."""
    a = [True, True, True, True, False, False, True, False]
    b = [False, False, True, True, False, False, True, True]
    d = np.array([1, 1, 0, 0, 0, 0, 0, -1], float)
    half = 1.96 * d.std(ddof=1) / math.sqrt(8)
    assert paired_interval_pp(a, b) == pytest.approx([100 * (0.125 - half), 100 * (0.125 + half)])
    assert paired_interval_pp([True], [False]) is None
