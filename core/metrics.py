"""Classification metrics on FER2013's 7 classes, used by training, conversion and the benchmarks.

One implementation in numpy, from the confusion matrix: the floor imports nothing but numpy, so a Raspberry Pi
whose benchmark runs without scikit-learn (the bundle's default) scores exactly as the training machine does.
``tests/core/test_metrics.py`` checks every figure against scikit-learn's own functions (``accuracy_score``,
``balanced_accuracy_score``, ``precision_recall_fscore_support`` with ``zero_division=0``, ``f1_score`` macro over
all 7 labels, ``confusion_matrix``).
"""

from __future__ import annotations

import numpy as np

from core.labels import EMOTIONS, NUM_CLASSES


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """(7, 7) counts: rows the true class, columns the predicted one."""
    cm = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    np.add.at(cm, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return cm


def classification_metrics(y_true: np.ndarray, probs: np.ndarray) -> dict:
    """Accuracy, balanced accuracy, macro-F1, per-class precision/recall/F1/support, confusion matrix."""
    y_true = np.asarray(y_true, dtype=np.int64)
    cm = confusion(y_true, np.asarray(probs).argmax(axis=1))
    tp = np.diag(cm).astype(np.float64)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    present = support > 0
    return {
        "n": int(y_true.size),
        "accuracy": float(tp.sum() / max(1, y_true.size)),
        "balanced_accuracy": float(recall[present].mean()) if present.any() else 0.0,
        "macro_f1": float(f1.mean()),
        "per_class": {
            name: {"precision": float(precision[k]), "recall": float(recall[k]), "f1": float(f1[k]),
                   "support": int(support[k])}
            for k, name in enumerate(EMOTIONS)
        },
        "confusion_matrix": cm.tolist(),
    }


INT8_OUTPUT_STEP = 1.0 / 256  # a full-int8 model's probability output: int8 with scale 1/256 (TFLite's softmax)


NEAR_TIE_STEPS = 2.0  # two best reference scores closer than this many output steps: a near tie


def near_tie_note(reference: str) -> str:
    """What a report says its "clear agreement" and "near ties" columns are (``reference``: whose scores)."""
    return (f"clear agreement: top-1 agreement on the faces whose two best {reference} scores are at least "
            f"{NEAR_TIE_STEPS:g} int8 output steps ({NEAR_TIE_STEPS:g}/256) apart; near ties: the share of faces that "
            "are not (an 8-bit output cannot keep those two scores apart)")


def top1_agreement(probs: np.ndarray, reference: np.ndarray, near_steps: float = NEAR_TIE_STEPS,
                   step: float = INT8_OUTPUT_STEP) -> dict:
    """Top-1 agreement of ``probs`` with ``reference`` (e.g. int8 against float32), overall and on the faces the
    reference does not nearly tie: where its two best scores are within ``near_steps`` output steps, an 8-bit
    output cannot keep them apart (equal scores, or one step either way), so disagreeing there says little about
    the quantisation. Returns ``agreement``, ``near_tie_share`` (faces with such a margin) and ``agreement_clear``
    (on the others; None when there are none)."""
    probs, reference = np.asarray(probs, np.float64), np.asarray(reference, np.float64)
    if probs.shape != reference.shape or probs.ndim != 2:
        raise ValueError(f"scores {probs.shape} and reference {reference.shape}: expected the same (N, classes)")
    same = probs.argmax(1) == reference.argmax(1)
    top2 = np.sort(reference, axis=1)[:, -2:] if reference.shape[1] >= 2 else np.zeros((len(reference), 2))
    near = (top2[:, 1] - top2[:, 0]) < near_steps * step
    clear = ~near
    return {"agreement": float(same.mean()) if len(same) else 1.0,
            "near_tie_share": float(near.mean()) if len(near) else 0.0,
            "agreement_clear": float(same[clear].mean()) if clear.any() else None}
