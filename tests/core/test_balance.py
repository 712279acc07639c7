"""core.balance: the prior-correction knob."""

from __future__ import annotations

import numpy as np
import pytest

from core.balance import adjust, check_tau, prior_vector, priors_from_counts
from core.labels import EMOTIONS

FER_TRAIN = [3995, 436, 4097, 7215, 4830, 3171, 4965]


def test_priors_from_the_training_counts():
    priors = priors_from_counts(FER_TRAIN)
    assert list(priors) == list(EMOTIONS)
    assert priors["disgust"] == pytest.approx(436 / 28709, abs=1e-6)
    np.testing.assert_allclose(prior_vector(priors).sum(), 1.0)
    with pytest.raises(ValueError, match="positive counts"):
        priors_from_counts([1, 0, 1, 1, 1, 1, 1])


def test_adjust_divides_out_the_prior_by_tau():
    priors = prior_vector(priors_from_counts(FER_TRAIN))
    probs = np.array([[0.1, 0.05, 0.1, 0.4, 0.15, 0.1, 0.1]])
    np.testing.assert_array_equal(adjust(probs, priors, 0.0), probs.astype(np.float32))
    full = adjust(probs, priors, 1.0)
    expected = probs / priors
    np.testing.assert_allclose(full, expected / expected.sum(), rtol=1e-6)
    half = adjust(probs, priors, 0.5)
    assert full[0, 1] > half[0, 1] > probs[0, 1]  # disgust, the rarest class, gains the most
    assert full.argmax() == 1 and probs.argmax() == 3  # at tau 1 the rare class wins this face


@pytest.mark.parametrize("bad", [-0.1, 2.5, float("nan"), float("inf"), "0.5"])
def test_tau_outside_0_to_2_is_refused(bad):
    with pytest.raises(ValueError, match="expected a number from 0"):
        check_tau(bad)


def test_missing_priors_are_refused():
    with pytest.raises(ValueError, match="expected a share > 0"):
        prior_vector({"angry": 0.5})
