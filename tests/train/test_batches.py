"""The non-TensorFlow input pipeline (train.batches.AugmentedBatches): every row once an epoch, a new seeded order
each epoch, targets and sample weights kept with their images."""

from __future__ import annotations

import numpy as np
import pytest

from train.batches import AugmentedBatches, Batches


def _identity(x, training=False):
    return x


def _epoch(batches) -> list[np.ndarray]:
    out = [batches[i] for i in range(len(batches))]
    batches.on_epoch_end()
    return out


def test_every_row_once_an_epoch_with_its_targets_and_weights() -> None:
    x = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1)
    y, w = np.arange(10) * 10, np.arange(10) / 10
    batches = AugmentedBatches((x, y, w), batch_size=4, seed=0, augmenter=_identity)
    assert len(batches) == 3
    seen = _epoch(batches)
    xs = np.concatenate([b[0].ravel() for b in seen])
    assert sorted(xs.tolist()) == list(range(10))
    for bx, by, bw in seen:
        assert bx.dtype == np.float32
        np.testing.assert_array_equal(by, bx.ravel() * 10)
        np.testing.assert_allclose(bw, bx.ravel() / 10)


def test_a_new_order_each_epoch_and_the_same_for_the_same_seed() -> None:
    x = np.arange(64, dtype=np.uint8).reshape(64, 1, 1, 1)
    a = AugmentedBatches((x, np.zeros(64)), 64, seed=3, augmenter=_identity)
    b = AugmentedBatches((x, np.zeros(64)), 64, seed=3, augmenter=_identity)
    first, second = _epoch(a)[0][0].ravel(), _epoch(a)[0][0].ravel()
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, _epoch(b)[0][0].ravel())


def test_the_augmenter_runs_in_training_mode_on_each_batch() -> None:
    calls = []

    def augmenter(x, training=False):
        calls.append(training)
        return x + 1

    batches = AugmentedBatches((np.zeros((5, 1, 1, 1), np.uint8), np.zeros(5)), 2, 0, augmenter)
    assert float(batches[0][0].min()) == 1.0
    assert calls == [True]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="unequal length"):
        AugmentedBatches((np.zeros(3), np.zeros(4)), 2, 0, _identity)
    with pytest.raises(IndexError):
        Batches((np.zeros(3), np.zeros(3)), 2)[2]
