"""Accuracy measurement for models that mirror-average in their graph (``convert --mirror``): scored once, marked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bench_helpers import make_models_dir
from synthetic import synthetic_images

from benchmarks.accuracy import measure_accuracy
from benchmarks.models import find_models
from benchmarks.report import accuracy_section, latency_section
from device.fileio import sha256_file
from device.formats import FORMATS


def test_models_with_mirroring_in_their_graph_are_not_mirrored_again(tmp_path: Path, fixtures_dir: Path) -> None:
    folder = make_models_dir(tmp_path / "models", fixtures_dir)
    entries = [{"variant": "unweighted", "format": f.name, "file": f"unweighted_{f.name}.tflite",
                "sha256": sha256_file(folder / f"unweighted_{f.name}.tflite"), "mirror_average": True} for f in FORMATS]
    (folder / "manifest.json").write_text(json.dumps({"models": entries}))
    models = find_models(folder)
    assert models.mirror_in_graph("unweighted") and not models.mirror_in_graph("weighted")

    x, y = synthetic_images(2, seed=3)
    rows, _ = measure_accuracy(models, x, y, mode="float32", progress=False, mirror=True)
    by = {(r["variant"], r["format"]): r for r in rows}
    for f in FORMATS:
        assert by["unweighted", f.name]["mirror_in_graph"] is True
        assert "accuracy_mirrored" not in by["unweighted", f.name]  # scored once: the graph already mirrors
        assert by["weighted", f.name]["mirror_in_graph"] is False
        assert 0.0 <= by["weighted", f.name]["accuracy_mirrored"] <= 1.0

    results = {
        "accuracy": {"skipped": None, "rows": rows, "data": "synthetic", "split": "test", "n": len(y), "total": len(y)},
        "reference": {"used": [{"variant": v, "kind": "float32", "source": "x"} for v in ("unweighted", "weighted")]},
        "models": [{"variant": m.variant, "format": m.fmt, "size_bytes": m.size_bytes,
                    "mirror_in_graph": m.mirror_in_graph} for m in models.models],
        "latency": {"skipped": None, "threads": [1],
                    "rows": [{"variant": v, "format": "int8", "threads": 1, "median_us": 2.0, "p95_us": 3.0,
                              "speedup_vs_float32": 1.0} for v in ("unweighted", "weighted")],
                    "settings": {"min_runs": 1, "min_seconds": 0.1, "warmup": 1}},
    }
    table = "\n".join(accuracy_section(results))
    assert table.count("| in graph |") == len(FORMATS)
    latency = "\n".join(latency_section(results))
    assert "| unweighted | int8 (2 views) |" in latency and "| weighted | int8 |" in latency


def test_a_manifest_entry_for_another_file_does_not_count_as_mirrored(tmp_path: Path, fixtures_dir: Path) -> None:
    folder = make_models_dir(tmp_path / "models", fixtures_dir, variants=("unweighted",))
    entries = [{"file": f"unweighted_{f.name}.tflite", "sha256": "0" * 64, "mirror_average": True} for f in FORMATS]
    (folder / "manifest.json").write_text(json.dumps({"models": entries}))
    models = find_models(folder)
    assert not models.mirror_in_graph("unweighted")  # the files were replaced after conversion: score both views


def test_unreadable_manifest_is_a_clear_error(tmp_path: Path, fixtures_dir: Path) -> None:
    from benchmarks.errors import BenchError

    folder = make_models_dir(tmp_path / "models", fixtures_dir, variants=("unweighted",))
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(BenchError, match=r"manifest\.json beside it is not readable JSON"):
        find_models(folder)


def test_jitter_moves_and_scales_the_face_box() -> None:
    from benchmarks.accuracy import jitter

    x, _ = synthetic_images(1, seed=1)
    x = x.copy()
    x[:, :, 40:] = 0  # an edge to follow (synthetic pixels are > 0)
    np.testing.assert_array_equal(jitter(x, 1.0, 0, 0), x)
    right = jitter(x, 1.0, 4, 0)  # the box moves right: the content moves left by 4 px
    np.testing.assert_array_equal(right[:, :, :-4], x[:, :, 4:])
    np.testing.assert_array_equal(right[:, :, -4:], np.repeat(x[:, :, -1:], 4, axis=2))  # border repeated
    down = jitter(x[..., None], 1.0, 0, 4)
    assert down.shape == (7, 48, 48, 1)
    np.testing.assert_array_equal(down[:, :-4, :, 0], x[:, 4:])
    larger = jitter(x, 1.15, 0, 0)  # a larger box: the face shrinks, the edge moves towards the centre
    assert (x[:, 24, 38:40] > 0).all() and (larger[:, 24, 38:] == 0).all() and (larger[:, 24, :37] > 0).all()
    smaller = jitter(x, 0.85, 0, 0)  # a smaller box: the face grows, the edge moves outwards
    assert (smaller[:, 24, :42] > 0).all() and (smaller[:, 24, 43:] == 0).all()


def test_quick_run_reports_face_box_jitter(quick_run) -> None:
    from benchmarks.accuracy import JITTER_FORMAT, JITTERS

    rows = quick_run.results["accuracy"]["jitter"]
    assert sorted((r["variant"], r["jitter"]) for r in rows) == sorted(
        (v, j[0]) for v in ("unweighted", "weighted") for j in JITTERS)
    for r in rows:
        assert r["format"] == JITTER_FORMAT and 0.0 <= r["accuracy"] <= 1.0
        assert r["delta_pp"] == pytest.approx(100 * (r["accuracy"] - r["base_accuracy"]))
    assert "Face-box jitter" in quick_run.report and "| box 15% larger |" in quick_run.report
