"""core.metrics (numpy) gives scikit-learn's numbers exactly, absent classes and empty predictions included."""

from __future__ import annotations

import numpy as np
import pytest

from core.labels import EMOTIONS
from core.metrics import classification_metrics

sklearn_metrics = pytest.importorskip("sklearn.metrics", reason="the cross-check needs scikit-learn")


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("seed,absent", [(0, ()), (1, (6,)), (2, (1, 5))])
def test_every_figure_is_scikit_learns(seed, absent):
    rng = np.random.default_rng(seed)
    classes = [k for k in range(7) if k not in absent]
    y = rng.choice(classes, size=400)
    probs = rng.random((400, 7))
    probs[np.arange(250), y[:250]] += 1.0  # better than chance, not perfect
    ours = classification_metrics(y, probs)
    pred = probs.argmax(1)
    labels = list(range(7))
    prec, rec, f1, support = sklearn_metrics.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    assert ours["n"] == 400
    assert ours["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(y, pred), abs=1e-12)
    assert ours["balanced_accuracy"] == pytest.approx(sklearn_metrics.balanced_accuracy_score(y, pred), abs=1e-12)
    assert ours["macro_f1"] == pytest.approx(
        sklearn_metrics.f1_score(y, pred, labels=labels, average="macro", zero_division=0), abs=1e-12)
    assert ours["confusion_matrix"] == sklearn_metrics.confusion_matrix(y, pred, labels=labels).tolist()
    for k, name in enumerate(EMOTIONS):
        got = ours["per_class"][name]
        assert (got["precision"], got["recall"], got["f1"], got["support"]) == pytest.approx(
            (prec[k], rec[k], f1[k], support[k]), abs=1e-12), name


def test_labels_are_matched_in_order():
    y = np.array([0, 1, 2, 3])
    probs = np.eye(7)[[0, 1, 3, 2]]
    m = classification_metrics(y, probs)
    assert m["accuracy"] == 0.5 and m["confusion_matrix"][2][3] == 1 and m["confusion_matrix"][3][2] == 1


def test_top1_agreement_sets_near_ties_apart() -> None:
    from core.metrics import INT8_OUTPUT_STEP, top1_agreement

    step = INT8_OUTPUT_STEP
    reference = np.array([[0.60, 0.30, 0.10],          # clear winner, kept
                          [0.50, 0.30, 0.20],          # clear winner, flipped: a real disagreement
                          [0.40, 0.40 - step, 0.20 + step],  # near tie (one step), flipped
                          [0.335, 0.333, 0.332]])      # near tie, kept
    probs = np.array([[0.6, 0.3, 0.1], [0.3, 0.5, 0.2], [0.39, 0.40, 0.21], [0.335, 0.333, 0.332]])
    got = top1_agreement(probs, reference)
    assert got["agreement"] == pytest.approx(0.5) and got["near_tie_share"] == pytest.approx(0.5)
    assert got["agreement_clear"] == pytest.approx(0.5)  # of the two clear faces, one flipped
    assert top1_agreement(probs[2:], reference[2:])["agreement_clear"] is None  # no clear face
    assert top1_agreement(probs, reference, near_steps=0)["near_tie_share"] == 0.0
    with pytest.raises(ValueError, match="same"):
        top1_agreement(probs[:, :2], reference)
