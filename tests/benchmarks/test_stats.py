"""Statistics helpers (``benchmarks.stats``): summaries, the paired interval of an accuracy difference, and the
interval of a proportion observed in clusters (a face's frames)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.stats import clustered_interval_pp, paired_interval_pp, summarize


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


def test_clusters_of_one_give_the_binomial_interval() -> None:
    """One observation per cluster: the robust standard error is sqrt(p (1 - p) / (k - 1))."""
    right = [1] * 7 + [0] * 3
    p, half = 0.7, 1.96 * math.sqrt(0.7 * 0.3 / 9)
    assert clustered_interval_pp(right, [1] * 10) == pytest.approx([100 * (p - half), 100 * (p + half)])


def test_frames_that_repeat_their_face_do_not_narrow_the_interval() -> None:
    """Ten faces, six frames each, every frame of a face as right or wrong as the face: the same evidence as ten
    single frames, and a wider interval than sixty independent frames would give."""
    faces = [1] * 7 + [0] * 3
    clustered = clustered_interval_pp([6 * r for r in faces], [6] * 10)
    assert clustered == pytest.approx(clustered_interval_pp(faces, [1] * 10))
    naive = clustered_interval_pp([r for r in faces for _ in range(6)], [1] * 60)
    assert clustered[1] - clustered[0] > 2 * (naive[1] - naive[0])
    mixed = clustered_interval_pp([3, 3, 3, 3], [6, 6, 6, 6])  # every face half right: no spread between faces
    assert mixed == pytest.approx([50.0, 50.0])


def test_a_clustered_interval_needs_two_clusters_and_valid_counts() -> None:
    assert clustered_interval_pp([2, 0], [3, 0]) is None  # one cluster with a trial
    assert clustered_interval_pp([1, 1], [1, 1]) == pytest.approx([100.0, 100.0])  # clipped, no spread
    with pytest.raises(ValueError, match="successes <= trials"):
        clustered_interval_pp([2, 1], [1, 1])
