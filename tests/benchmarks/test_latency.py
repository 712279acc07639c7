"""Classifier latency (``benchmarks.latency``): the timing loop's stopping rule, the faces it cycles through and the
ratio against float32 of the same variant and thread count. Timings themselves are never asserted here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.latency import LatencySettings, measure_latency, sample_faces, thread_counts, time_classifier
from benchmarks.models import ModelFile


class CountingClassifier:
    def __init__(self) -> None:
        self.faces: list[int] = []

    def predict_proba(self, batch: np.ndarray) -> np.ndarray:
        assert batch.shape == (1, 48, 48)
        self.faces.append(int(batch[0, 0, 0]))
        return np.full((1, 7), 1 / 7, np.float32)


def test_the_loop_warms_up_untimed_then_times_between_its_bounds() -> None:
    faces = np.arange(3, dtype=np.uint8)[:, None, None] * np.ones((1, 48, 48), np.uint8)
    clf = CountingClassifier()
    samples = time_classifier(clf, faces, LatencySettings(warmup=4, min_runs=7, min_seconds=0.0, max_runs=100))
    assert len(samples) == 7 and all(s >= 0 for s in samples)
    assert clf.faces == [0, 1, 2, 0] + [0, 1, 2, 0, 1, 2, 0], "warm-up calls are not timed; faces cycle"
    capped = time_classifier(CountingClassifier(), faces, LatencySettings(warmup=0, min_runs=1, min_seconds=60.0,
                                                                          max_runs=25))
    assert len(capped) == 25, "max_runs ends the loop before min_seconds"


def test_faces_are_real_when_given_and_threads_stop_at_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    real = np.random.default_rng(1).integers(0, 256, (40, 48 * 48), dtype=np.uint8)
    picked = sample_faces(real, count=16, seed=3)
    assert picked.shape == (16, 48, 48) and picked.dtype == np.uint8
    assert all(any(np.array_equal(p.ravel(), r) for r in real) for p in picked)
    assert sample_faces(real[:5]).shape == (5, 48, 48)
    assert sample_faces(None, count=4).shape == (4, 48, 48)
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    assert thread_counts() == [1, 2, 3, 4] and thread_counts(2) == [1, 2] and thread_counts(8) == [1, 2, 3, 4]


def test_each_row_is_timed_against_float32_of_its_variant_and_threads(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    models = [ModelFile(variant, fmt, tmp_path / f"{variant}_{fmt}.tflite", 1)
              for variant in ("unweighted", "weighted") for fmt in ("float32", "int8")]
    medians = {("unweighted", "float32"): 100.0, ("unweighted", "int8"): 50.0,
               ("weighted", "float32"): 90.0, ("weighted", "int8"): 30.0}
    current: list[tuple[str, str]] = []

    def fake_time(classifier, faces, settings):
        return [medians[current[-1]]] * 3

    def fake_classifier(options):
        model = next(m for m in models if m.path == options.model_path)
        current.append((model.variant, model.fmt))
        return object()

    monkeypatch.setattr("benchmarks.latency.time_classifier", fake_time)
    monkeypatch.setattr("benchmarks.latency.EmotionClassifier", fake_classifier)
    rows = measure_latency(models[1::-1] + models[2:], [1, 2], None, LatencySettings.quick(), progress=False)
    assert len(rows) == 8
    ratio = {(r["variant"], r["format"], r["threads"]): r["speedup_vs_float32"] for r in rows}
    assert ratio[("unweighted", "int8", 1)] == pytest.approx(2.0)
    assert ratio[("weighted", "int8", 2)] == pytest.approx(3.0), "against its own variant's float32"
    assert ratio[("unweighted", "float32", 2)] == pytest.approx(1.0)
    assert all(r["median_us"] == medians[(r["variant"], r["format"])] and r["runs"] == 3 for r in rows)
