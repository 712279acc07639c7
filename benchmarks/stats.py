"""Small statistics helpers shared by the benchmark parts."""

from __future__ import annotations

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
