"""The prior-correction trade-off: the curve is the device's correction scored by core.metrics, tau by tau."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.tradeoff import render
from core.balance import adjust, matching_tau, prior_vector, priors_from_counts
from core.balance import tradeoff_answer as answer
from core.balance import tradeoff_curve as curve

PRIORS = prior_vector(priors_from_counts([3995, 436, 4097, 7215, 4830, 3171, 4965]))


def _scores(seed: int = 0, n: int = 700) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.choice(7, size=n, p=PRIORS)
    logits = rng.normal(0, 1, size=(n, 7)) + 1.5 * np.eye(7)[y] + np.log(PRIORS)  # a prior-biased model
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return probs, y


def test_answer_picks_the_least_tau_that_reaches_the_weighted_models_balance():
    probs, y = _scores()
    unweighted = curve(probs, y, PRIORS)
    weighted = curve(adjust(probs, PRIORS, 0.6), y, PRIORS)  # stands in for a model trained with weights
    result = {"split": "val", "faces": len(y), "format": "int8", "data": "x.csv", "notes": [],
              "variants": {"unweighted": {"model": "u.tflite", "views": 1, "rows": unweighted},
                           "weighted": {"model": "w.tflite", "views": 1, "rows": weighted}}}
    best, reached = matching_tau(result)
    target = weighted[0]["balanced_accuracy"]
    assert reached and best["balanced_accuracy"] >= target
    assert all(r["balanced_accuracy"] < target for r in unweighted if r["tau"] < best["tau"]), "the least such tau"
    assert best["tau"] == pytest.approx(0.6, abs=0.25)
    text = answer(result)
    assert f"at tau {best['tau']:.1f} reaches" in text and f"{100 * best['accuracy']:.1f}% accuracy" in text
    weighted_row = result["variants"]["weighted"]["rows"][0]
    weighted_row["accuracy"] = best["accuracy"]  # the knob as accurate as the weighted model where it matches it
    assert answer(result).endswith(": one model and a knob in place of a second model.")
    weighted_row["accuracy"] = best["accuracy"] + 0.005  # the weighted model more accurate at that balance
    assert answer(result).endswith(": the knob keeps one model on the device but is 0.5 pp less accurate there than "
                                   "the weighted model.")
    weighted_row["balanced_accuracy"] = 0.99  # out of the knob's reach
    assert "comes closest, short of the weighted model" in answer(result)
    assert answer(result).endswith(": the weighted model's balance is out of the knob's reach.")
    md = render(result, "python -m benchmarks tradeoff", "`host`")
    assert md.count("| 0.0 |") == 2 and "## Reading" in md


def test_a_manifest_with_unusable_priors_is_refused_before_the_faces_load(tmp_path, fixtures_dir, monkeypatch):
    """Every model's priors are read first: a broken entry is a BenchError naming manifest.json and the model,
    before the evaluation faces load or any model runs."""
    import json

    from bench_helpers import make_models_dir

    import benchmarks.data
    from benchmarks.errors import BenchError
    from benchmarks.tradeoff import measure

    models = make_models_dir(tmp_path / "models", fixtures_dir)
    good = dict(zip(["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"], PRIORS.tolist(),
                    strict=True))
    (models / "manifest.json").write_text(json.dumps({"models": [
        {"file": "unweighted_int8.tflite", "class_priors": good},
        {"file": "weighted_int8.tflite", "class_priors": {**good, "disgust": -1.0}},
    ]}))

    def no_faces(*_args, **_kwargs):
        raise AssertionError("the faces were loaded before the priors were checked")

    monkeypatch.setattr(benchmarks.data, "load_eval_faces", no_faces)
    with pytest.raises(BenchError, match=r"manifest\.json: weighted_int8\.tflite: class priors"):
        measure(models, tmp_path / "fer.csv")
