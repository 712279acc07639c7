"""Small statistics helpers shared by the benchmark parts."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def summarize(values: Sequence[float]) -> dict:
    """median, p95, mean, min, max and n of ``values`` (None for an empty list)."""
    if len(values) == 0:
        return {"n": 0, "median": None, "p95": None, "mean": None, "min": None, "max": None}
    arr = np.asarray(values, dtype=np.float64)
    return {
        "n": int(arr.size),
        "median": float(np.median(arr)),
        "p95": float(np.percentile(arr, 95)),
        "mean": float(arr.mean()),
        "min": float(arr.min()),
        "max": float(arr.max()),
    }


def paired_interval_pp(right_a: Sequence[bool], right_b: Sequence[bool], z: float = 1.96) -> list[float] | None:
    """95% interval of accuracy(a) - accuracy(b) in pp over the same faces: the mean per-face difference (1, 0 or -1)
    +- z standard errors (normal approximation; the faces are the unit). None for fewer than two faces."""
    d = np.asarray(right_a, np.float64) - np.asarray(right_b, np.float64)
    if len(d) < 2:
        return None
    half = z * float(np.std(d, ddof=1)) / math.sqrt(len(d))
    return [100.0 * (float(d.mean()) - half), 100.0 * (float(d.mean()) + half)]


def clustered_ratio_interval(totals: Sequence[float], sizes: Sequence[float], z: float = 1.96) -> list[float] | None:
    """Interval of sum(totals) / sum(sizes) when the observations come in clusters that are not independent (the
    frames of one face: a face labelled wrong tends to stay wrong). Cluster ``i`` contributes ``totals[i]`` over
    ``sizes[i]`` observations (a count of right frames, or a paired difference of such counts); the standard error is
    the cluster-robust one of a ratio estimator, sqrt(k / (k - 1) * sum((t_i - r n_i)^2)) / sum(n_i) over the k
    clusters with an observation, and the interval r +- z of them (normal approximation, as
    :func:`paired_interval_pp`; numpy only, so the on-device benchmark needs nothing more). None for fewer than two
    such clusters."""
    totals_a = np.asarray(totals, np.float64)
    n = np.asarray(sizes, np.float64)
    if totals_a.shape != n.shape or np.any(n < 0):
        raise ValueError("totals and sizes: expected equal lengths and sizes >= 0")
    keep = n > 0
    totals_a, n = totals_a[keep], n[keep]
    k = int(n.size)
    if k < 2:
        return None
    r = float(totals_a.sum() / n.sum())
    se = math.sqrt(k / (k - 1) * float(np.sum((totals_a - r * n) ** 2))) / float(n.sum())
    return [r - z * se, r + z * se]


def clustered_interval_pp(successes: Sequence[int], trials: Sequence[int], z: float = 1.96) -> list[float] | None:
    """:func:`clustered_ratio_interval` of a proportion, in % and clipped to 0..100: ``successes[i]`` of
    ``trials[i]`` observations of cluster ``i`` were right. None for fewer than two clusters with a trial."""
    s, n = np.asarray(successes, np.float64), np.asarray(trials, np.float64)
    if s.shape != n.shape or np.any(s < 0) or np.any(s > n):
        raise ValueError("successes and trials: expected equal lengths and 0 <= successes <= trials per cluster")
    bounds = clustered_ratio_interval(s, n, z)
    return None if bounds is None else [100.0 * max(0.0, bounds[0]), 100.0 * min(1.0, bounds[1])]
