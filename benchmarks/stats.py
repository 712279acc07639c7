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


def clustered_interval_pp(successes: Sequence[int], trials: Sequence[int], z: float = 1.96) -> list[float] | None:
    """Interval of a proportion, in %, when the observations come in clusters that are not independent (the frames of
    one face: a face labelled wrong tends to stay wrong). ``successes[i]`` of ``trials[i]`` observations of cluster
    ``i`` were right; the proportion is sum(successes) / sum(trials), its standard error the cluster-robust one of a
    ratio estimator, sqrt(k / (k - 1) * sum((s_i - p n_i)^2)) / sum(n_i) over the k clusters with a trial, and the
    interval is p +- z standard errors (normal approximation, as :func:`paired_interval_pp`; numpy only, so the
    on-device benchmark needs nothing more), clipped to 0..100. None for fewer than two such clusters."""
    s = np.asarray(successes, np.float64)
    n = np.asarray(trials, np.float64)
    if s.shape != n.shape or np.any(s < 0) or np.any(s > n):
        raise ValueError("successes and trials: expected equal lengths and 0 <= successes <= trials per cluster")
    keep = n > 0
    s, n = s[keep], n[keep]
    k = int(n.size)
    if k < 2:
        return None
    p = float(s.sum() / n.sum())
    se = math.sqrt(k / (k - 1) * float(np.sum((s - p * n) ** 2))) / float(n.sum())
    half = z * se
    return [100.0 * max(0.0, p - half), 100.0 * min(1.0, p + half)]
