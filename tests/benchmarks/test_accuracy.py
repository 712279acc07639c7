"""Accuracy measurement for models that mirror-average in their graph (``convert --mirror``): scored once, marked."""

from __future__ import annotations

import json
from pathlib import Path

from bench_helpers import make_models_dir
from synthetic import synthetic_images

from benchmarks.accuracy import measure_accuracy
from benchmarks.models import find_models
from benchmarks.report import accuracy_section, latency_section
from device.formats import FORMATS


def test_models_with_mirroring_in_their_graph_are_not_mirrored_again(tmp_path: Path, fixtures_dir: Path) -> None:
    folder = make_models_dir(tmp_path / "models", fixtures_dir)
    entries = [{"variant": "unweighted", "format": f.name, "file": f"unweighted_{f.name}.tflite",
                "mirror_average": True} for f in FORMATS]
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
