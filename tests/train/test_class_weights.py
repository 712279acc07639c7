from __future__ import annotations

import numpy as np
import pytest

from train.runs import class_weights


def test_matches_inverse_frequency_formula():
    counts = np.array([3995, 436, 4097, 7215, 4830, 3171, 4965])  # FER2013 training split
    y = np.repeat(np.arange(7), counts)
    w = class_weights(y)
    n, k = counts.sum(), len(counts)
    for c in range(7):
        assert w[c] == pytest.approx(n / (k * counts[c]))
    assert w[1] == pytest.approx(9.4066, abs=1e-3)  # disgust, the rarest class, weighs most
    assert np.dot([w[c] for c in range(7)], counts) == pytest.approx(n)


def test_balanced_data_gives_unit_weights():
    assert all(v == pytest.approx(1.0) for v in class_weights(np.repeat(np.arange(7), 5)).values())


def test_missing_class_is_an_error():
    with pytest.raises(ValueError, match="disgust"):
        class_weights(np.array([0, 2, 3, 4, 5, 6]))
