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
