"""Classifier alone, per model and thread count: microseconds per single-face ``predict_proba`` call.

Each (model, num_threads) pair gets a fresh interpreter, ``warmup`` untimed calls, then timed calls
(``time.perf_counter_ns``) until both ``min_runs`` calls and ``min_seconds`` have passed (at most
``max_runs``). The faces cycle through a fixed set (real test faces when data was given).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from benchmarks.models import ModelFile
from benchmarks.progress import progress_bar
from benchmarks.stats import summarize
from core.formats import REFERENCE_FORMAT
from core.labels import INPUT_SIZE
from device.classifier import ClassifierOptions, EmotionClassifier


@dataclass(frozen=True)
class LatencySettings:
    warmup: int = 20
    min_runs: int = 300
    min_seconds: float = 2.0
    max_runs: int = 20000

    @classmethod
    def quick(cls) -> LatencySettings:
        return cls(warmup=5, min_runs=30, min_seconds=0.1, max_runs=500)


def thread_counts(threads_max: int | None = None) -> list[int]:
    """1 .. the core count (or ``threads_max`` when smaller)."""
    cores = os.cpu_count() or 1
    top = min(cores, threads_max) if threads_max else cores
    return list(range(1, max(1, top) + 1))


def sample_faces(faces: np.ndarray | None, count: int = 16, seed: int = 0) -> np.ndarray:
    """(count, 48, 48) uint8: real faces when given, else smooth random images."""
    if faces is not None and len(faces):
        index = np.random.default_rng(seed).choice(len(faces), size=min(count, len(faces)), replace=False)
        return np.ascontiguousarray(faces[index].reshape(-1, INPUT_SIZE, INPUT_SIZE))
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(count, INPUT_SIZE, INPUT_SIZE), dtype=np.uint8)


def time_classifier(classifier: EmotionClassifier, faces: np.ndarray, settings: LatencySettings) -> list[float]:
    """Microseconds per single-face call, after the warm-up."""
    batches = [faces[i : i + 1] for i in range(len(faces))]
    for i in range(settings.warmup):
        classifier.predict_proba(batches[i % len(batches)])
    samples: list[float] = []
    deadline = time.perf_counter_ns() + int(settings.min_seconds * 1e9)
    i = 0
    while i < settings.max_runs and (i < settings.min_runs or time.perf_counter_ns() < deadline):
        batch = batches[i % len(batches)]
        start = time.perf_counter_ns()
        classifier.predict_proba(batch)
        samples.append((time.perf_counter_ns() - start) / 1000.0)
        i += 1
    return samples


def measure_latency(
    models: list[ModelFile],
    threads: list[int],
    faces: np.ndarray | None,
    settings: LatencySettings,
    progress: bool = True,
) -> list[dict]:
    """One row per (model, num_threads): median/p95 us per face and the ratio to float32 of the same variant."""
    sample = sample_faces(faces)
    rows: list[dict] = []
    with progress_bar("classifier latency", len(models) * len(threads), enabled=progress) as bar:
        for model in models:
            for n in threads:
                classifier = EmotionClassifier(ClassifierOptions(model.path, n))
                samples = time_classifier(classifier, sample, settings)
                del classifier
                stats = summarize(samples)
                rows.append({
                    "variant": model.variant,
                    "format": model.fmt,
                    "threads": n,
                    "runs": stats["n"],
                    "warmup": settings.warmup,
                    "median_us": stats["median"],
                    "p95_us": stats["p95"],
                    "mean_us": stats["mean"],
                    "min_us": stats["min"],
                })
                bar.update()
    for row in rows:
        base = next((r for r in rows if r["variant"] == row["variant"] and r["format"] == REFERENCE_FORMAT
                     and r["threads"] == row["threads"]), None)
        row["speedup_vs_float32"] = base["median_us"] / row["median_us"] if base and row["median_us"] else None
    return rows
