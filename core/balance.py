"""Post-hoc prior correction ("logit adjustment", Menon et al., ICLR 2021): one knob between overall accuracy and
rare-class recall, applied to a model's scores at inference instead of training a class-weighted model.

A model trained without class weights estimates p(class | face) under the training split's class frequencies.
``log p_k - tau * log prior_k``, renormalised, moves it toward a balanced prior: ``tau = 0`` is the model as
trained, ``tau = 1`` divides out the training prior completely. The priors are the training split's class shares,
recorded per model in the manifest (``class_priors``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from core.labels import EMOTIONS, NUM_CLASSES
from core.metrics import classification_metrics

MAX_TAU = 2.0
# the trade-off curve's settings: the model as trained (0) to the training prior divided out completely (1)
TAUS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))
CURVE_FIGURES: tuple[str, ...] = ("accuracy", "balanced_accuracy", "macro_f1")


def check_tau(tau: float) -> float:
    """``tau`` as a float in 0..MAX_TAU, else ValueError."""
    if not (isinstance(tau, (int, float)) and math.isfinite(tau) and 0.0 <= tau <= MAX_TAU):
        raise ValueError(f"balance {tau!r}: expected a number from 0 (the model as trained) to {MAX_TAU:g}")
    return float(tau)


def priors_from_counts(counts) -> dict[str, float]:
    """{emotion: share} from per-class counts in label order (every class must be present)."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != (NUM_CLASSES,) or not np.all(counts > 0):
        raise ValueError(f"class counts {counts.tolist()}: expected {NUM_CLASSES} positive counts in label order")
    shares = counts / counts.sum()
    return {name: round(float(s), 6) for name, s in zip(EMOTIONS, shares)}


def prior_vector(priors: dict[str, float]) -> np.ndarray:
    """Label-ordered priors from the manifest's ``{emotion: share}``; ValueError when one is missing or not > 0."""
    try:
        vector = np.array([float(priors[name]) for name in EMOTIONS], dtype=np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"class priors {priors!r}: expected a share > 0 for each of {list(EMOTIONS)}") from exc
    if not np.all(np.isfinite(vector) & (vector > 0)):
        raise ValueError(f"class priors {priors!r}: expected a share > 0 for each of {list(EMOTIONS)}")
    return vector / vector.sum()


def adjust(probs: np.ndarray, priors: np.ndarray, tau: float) -> np.ndarray:
    """(N, 7) probabilities corrected by ``priors ** -tau`` and renormalised (float32); ``tau = 0`` returns them."""
    probs = np.asarray(probs, dtype=np.float64)
    if tau == 0.0:
        return probs.astype(np.float32)
    logits = np.log(np.clip(probs, 1e-12, 1.0)) - tau * np.log(priors)
    logits -= logits.max(axis=-1, keepdims=True)
    out = np.exp(logits)
    return (out / out.sum(axis=-1, keepdims=True)).astype(np.float32)


def tradeoff_curve(probs: np.ndarray, y: np.ndarray, priors: np.ndarray, taus: tuple[float, ...] = TAUS) -> list[dict]:
    """One row per tau: accuracy, balanced accuracy, macro-F1 and per-class recall/precision (fractions) of
    ``probs`` corrected by :func:`adjust`."""
    rows = []
    for tau in taus:
        m = classification_metrics(y, adjust(probs, priors, tau))
        rows.append({
            "tau": tau, **{k: m[k] for k in CURVE_FIGURES},
            "recall": {c: m["per_class"][c]["recall"] for c in EMOTIONS},
            "precision": {c: m["per_class"][c]["precision"] for c in EMOTIONS},
        })
    return rows


def mean_curve(curves: list[list[dict]]) -> list[dict]:
    """Several :func:`tradeoff_curve` results over the same taus (one per seed) as one: every figure averaged, and
    the spread of accuracy and balanced accuracy over them as ``sd`` (sample s.d.; 0 for one curve)."""
    if not curves or len({tuple(r["tau"] for r in c) for c in curves}) != 1:
        raise ValueError("mean_curve: expected one or more curves over the same taus")
    rows = []
    for at_tau in zip(*curves):
        row: dict = {"tau": at_tau[0]["tau"]}
        for k in CURVE_FIGURES:
            row[k] = float(np.mean([r[k] for r in at_tau]))
        for k in ("recall", "precision"):
            row[k] = {c: float(np.mean([r[k][c] for r in at_tau])) for c in EMOTIONS}
        row["sd"] = {k: float(np.std([r[k] for r in at_tau], ddof=1)) if len(at_tau) > 1 else 0.0
                     for k in ("accuracy", "balanced_accuracy")}
        rows.append(row)
    return rows


def curve_table(rows: list[dict]) -> list[str]:
    """A trade-off curve as a markdown table (figures in %): the overall figures and the classes the trade-off
    moves most (disgust and fear, the rare and the confused one) with happy, the frequent one."""
    lines = ["| tau | accuracy | balanced accuracy | macro-F1 | recall disgust | precision disgust | recall fear "
             "| precision fear | recall happy |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['tau']:.1f} | {_pct(r['accuracy'])} | {_pct(r['balanced_accuracy'])} | "
                     f"{_pct(r['macro_f1'])} | {_pct(r['recall']['disgust'])} | {_pct(r['precision']['disgust'])} "
                     f"| {_pct(r['recall']['fear'])} | {_pct(r['precision']['fear'])} | {_pct(r['recall']['happy'])} |")
    return lines


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def first_reaching(rows: Iterable[dict], target: float, key: str = "balanced_accuracy") -> tuple[dict, bool]:
    """The least correction that reaches ``target``: the first of ``rows`` (in increasing tau) whose ``key`` is at
    least ``target``, and True; when none does, the row that comes closest (the highest), and False. ``rows`` may be
    a generator: nothing after the first row that reaches the target is computed.

    As a user turns the knob up from 0. Balanced accuracy can rise and fall again as tau grows, and a later crossing
    sits where accuracy has already collapsed: "closest to the target anywhere on the curve" can pick it."""
    best = None
    for row in rows:
        if row[key] >= target:
            return row, True
        if best is None or row[key] > best[key]:
            best = row
    if best is None:
        raise ValueError("first_reaching: no rows")
    return best, False


def matching_tau(result: dict) -> tuple[dict, bool]:
    """From a trade-off result (``python -m benchmarks tradeoff``'s tradeoff.json): the unweighted model's row of
    least correction that reaches the weighted model's balanced accuracy (tau 0), and whether one does."""
    target = result["variants"]["weighted"]["rows"][0]["balanced_accuracy"]
    return first_reaching(result["variants"]["unweighted"]["rows"], target)


def tradeoff_answer(result: dict) -> str:
    """The comparison in plain words, every number and the verdict computed: the knob stands in for the weighted
    model where it reaches that model's balanced accuracy at no less accuracy."""
    u0 = result["variants"]["unweighted"]["rows"][0]
    w0 = result["variants"]["weighted"]["rows"][0]
    best, reached = matching_tau(result)
    cost_pp = 100 * (w0["accuracy"] - best["accuracy"])
    if not reached:
        verdict = "the weighted model's balance is out of the knob's reach"
    elif cost_pp <= 0:
        verdict = "one model and a knob in place of a second model"
    else:
        verdict = (f"the knob keeps one model on the device but is {cost_pp:.1f} pp less accurate there than the "
                   "weighted model")
    return (
        f"As trained, the weighted model scores {_pct(w0['accuracy'])}% accuracy and {_pct(w0['balanced_accuracy'])}% "
        f"balanced accuracy against the unweighted model's {_pct(u0['accuracy'])}% and "
        f"{_pct(u0['balanced_accuracy'])}%. Prior correction of the unweighted model at tau {best['tau']:.1f} "
        f"{'reaches' if reached else 'comes closest, short of the weighted model, with'} "
        f"{_pct(best['balanced_accuracy'])}% balanced accuracy at {_pct(best['accuracy'])}% accuracy (disgust recall "
        f"{_pct(best['recall']['disgust'])}% at precision {_pct(best['precision']['disgust'])}%, against the weighted "
        f"model's {_pct(w0['recall']['disgust'])}% at {_pct(w0['precision']['disgust'])}%): {verdict}."
    )
