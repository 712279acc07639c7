from __future__ import annotations

import json

import numpy as np
import pytest

from device.labels import EMOTIONS
from train import results
from train.study import CLAIMS, aggregate, answer, paired_interval, render


def _metrics(acc: float, disgust_prec: float) -> dict:
    per = {c: {"precision": acc, "recall": acc, "f1": acc, "support": 10} for c in EMOTIONS}
    per["disgust"]["precision"] = disgust_prec
    return {"splits": {"val": {"accuracy": acc, "balanced_accuracy": acc - 0.05, "macro_f1": acc - 0.1,
                               "per_class": per}}, "train_wall_s": 60.0}


def test_paired_interval_matches_t_distribution():
    mean, lo, hi = paired_interval(np.array([1.0, 2.0, 3.0]))
    assert mean == 2.0
    assert (hi - lo) / 2 == pytest.approx(4.302653 * 1.0 / np.sqrt(3), rel=1e-5)  # t(0.975, 2) * s / sqrt(n)


def test_aggregate_and_answer():
    metrics = {
        "unweighted": {0: _metrics(0.60, 0.40), 1: _metrics(0.61, 0.42), 2: _metrics(0.59, 0.41)},
        "weighted": {0: _metrics(0.58, 0.30), 1: _metrics(0.585, 0.31), 2: _metrics(0.57, 0.29)},
    }
    summary = aggregate(metrics, "val")
    assert summary["seeds"] == [0, 1, 2]
    assert summary["variants"]["unweighted"]["accuracy"]["mean"] == pytest.approx(60.0)
    assert summary["paired"]["accuracy"]["mean"] == pytest.approx(-2.1666667)
    assert summary["paired"]["accuracy"]["ci95"][1] < 0
    text = answer(summary)
    assert "weights lower" in text and "outside our interval" in text
    meta = {"recipe": "tiny", "epochs": 1, "created": "now", "host": "h", "platform": "p", "command": "c"}
    md = render(summary, meta)
    for claim in CLAIMS:
        assert claim in md


def test_readme_section_is_generated_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{results.BEGIN}\nold\n{results.END}\noutro\n")
    summary = aggregate({v: {s: _metrics(0.6 + 0.01 * s, 0.4) for s in range(3)}
                         for v in ("unweighted", "weighted")}, "val")
    study = tmp_path / "study.json"
    meta = {"recipe": "tiny", "epochs": 1, "command": "python -m train.study"}
    study.write_text(json.dumps({"meta": meta, "claims": CLAIMS, **summary}))
    assert results.main(["--readme", str(readme), "--models", str(tmp_path / "none"),
                         "--studies", str(study)]) == 0
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "Do class weights help?" in text and "59.3 -> 65.0" in text
