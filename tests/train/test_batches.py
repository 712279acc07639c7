"""The non-TensorFlow input pipeline (train.batches.AugmentedBatches): every row once an epoch, a new seeded order
each epoch, targets and sample weights kept with their images."""

from __future__ import annotations

import numpy as np
import pytest

from train.batches import Alternates, AugmentedBatches, Batches


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


def _with_alternates(share: float, n: int = 40):
    x = np.arange(n, dtype=np.int32).reshape(n, 1, 1, 1)
    alternates = Alternates(x + 100, np.arange(n) % 2 == 0, share)  # only the even rows have an alternate
    return x, np.arange(n) * 10, alternates


def test_alternates_replace_only_available_images_and_keep_their_targets() -> None:
    x, y, alternates = _with_alternates(1.0)
    seen = _epoch(AugmentedBatches((x, y), 8, 0, _identity, alternates=alternates))
    for bx, by in seen:
        row = (by // 10).astype(int)  # the row each target belongs to
        expected = np.where(row % 2 == 0, row + 100, row)
        np.testing.assert_array_equal(bx.ravel(), expected)
    none = _epoch(AugmentedBatches((x, y), 8, 0, _identity, alternates=_with_alternates(0.0)[2]))
    assert max(float(b[0].max()) for b in none) < 100


def test_alternates_are_drawn_anew_each_epoch_at_their_share() -> None:
    x, y, alternates = _with_alternates(0.5, n=2000)
    batches = AugmentedBatches((x, y), 2000, 1, _identity, alternates=alternates)
    first = _epoch(batches)[0]
    second = _epoch(batches)[0]

    def swapped(batch) -> set[int]:
        bx, by = batch
        return {int(r) for r, v in zip(by // 10, bx.ravel()) if v != r}

    a, b = swapped(first), swapped(second)
    assert all(r % 2 == 0 for r in a | b)
    assert 400 < len(a) < 600 and 400 < len(b) < 600  # half of the 1000 rows with an alternate
    assert a != b


def test_alternates_of_another_shape_are_refused() -> None:
    x, y, _ = _with_alternates(0.5)
    with pytest.raises(ValueError, match="alternates"):
        AugmentedBatches((x, y), 8, 0, _identity, alternates=Alternates(np.zeros((3, 1, 1, 1)), np.ones(3, bool), 1))
    with pytest.raises(ValueError, match="alternates"):
        AugmentedBatches((x, y), 8, 0, _identity, alternates=Alternates(x.astype(np.uint8), np.ones(len(x), bool), 1))


@pytest.mark.needs_tf
def test_the_tf_data_pipeline_swaps_alternates_alike() -> None:
    pytest.importorskip("tensorflow")
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the tf.data pipeline is TensorFlow's")
    from train.batches import training_batches

    x, y, alternates = _with_alternates(1.0)
    batches = list(training_batches((x, y), 8, 0, _identity, alternates=alternates).as_numpy_iterator())
    rows = np.concatenate([b[1] for b in batches]) // 10
    values = np.concatenate([b[0].ravel() for b in batches])
    assert sorted(rows.tolist()) == list(range(40))
    np.testing.assert_array_equal(values, np.where(rows % 2 == 0, rows + 100, rows))
    half = _with_alternates(0.5, n=2000)
    swapped = []
    data = training_batches((half[0], half[1]), 2000, 3, _identity, alternates=half[2])
    for _ in range(2):  # two epochs: drawn anew
        bx, by = next(iter(data.as_numpy_iterator()))
        swapped.append({int(r) for r, v in zip(by // 10, bx.ravel()) if v != r})
    assert all(400 < len(s) < 600 for s in swapped) and swapped[0] != swapped[1]


def test_a_recipe_with_device_crops_gets_them_as_alternates_and_records_the_file(tmp_path) -> None:
    from dataclasses import replace

    from core.devicecrops import DeviceCrops, DeviceCropsError, device_crops_path, images_digest, write_device_crops
    from train.recipes import TINY
    from train.trainer import device_alternates

    x = np.random.default_rng(0).integers(0, 256, (6, 48, 48, 1), dtype=np.uint8)
    crops, found = 255 - x[..., 0], np.array([1, 0, 1, 0, 1, 1], bool)
    recipe = replace(TINY, device_crops="blazeface", device_crop_share=0.25)
    assert device_alternates(TINY, tmp_path, x) == (None, None)
    with pytest.raises(DeviceCropsError, match="make device-crops"):
        device_alternates(recipe, tmp_path, x)
    path = device_crops_path(tmp_path, "blazeface")
    write_device_crops(path, DeviceCrops(crops, found, images_digest(x), {"detector": "blazeface", "command": "c"}))
    alternates, info = device_alternates(recipe, tmp_path, x)
    assert alternates.images.shape == x.shape and alternates.images.dtype == x.dtype
    np.testing.assert_array_equal(alternates.images[..., 0], crops)
    assert alternates.available.tolist() == found.tolist() and alternates.share == 0.25
    assert info["found_share"] == pytest.approx(4 / 6, abs=1e-4) and info["detector"] == "blazeface"
    assert len(info["sha256"]) == 64


JAX_AUGMENT = """
import numpy as np
from train.batches import CompiledAugmenter
from train.models import build_augmenter
from train.recipes import RECIPES

recipe = RECIPES["teacher-vggnet"]
x = np.random.default_rng(0).integers(0, 256, (16, 48, 48, 1)).astype(np.float32)
compiled = CompiledAugmenter(build_augmenter(recipe, 0))
eager = build_augmenter(recipe, 0)
a, b = compiled(x), compiled(x)
e = np.stack([np.asarray(eager(x, training=True)) for _ in range(4)])
print(type(a).__name__, a.shape, a.dtype, compiled._compiled is not None)
print(float(np.abs(a - b).mean()), float(np.abs(a - x).mean()), float(np.abs(e - x).mean()))
"""


def test_on_jax_the_augmenter_is_one_compiled_call_with_new_draws_each_batch(repo_root) -> None:
    """Eager JAX took 70 ms a batch on an H200 (the GPU idled); compiled, the layers' seed states must still move on
    from batch to batch (else every batch gets the same transforms) and the transforms be as strong as eager ones."""
    import os
    import subprocess
    import sys

    pytest.importorskip("jax", reason="jax is in requirements/dev.txt: the GPU machine's backend")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(repo_root)}
    done = subprocess.run([sys.executable, "-c", JAX_AUGMENT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    first, second = done.stdout.strip().splitlines()[-2:]
    assert first == "ndarray (16, 48, 48, 1) float32 True"
    between, compiled_change, eager_change = map(float, second.split())
    assert between > 10.0  # two batches of the same images transformed differently
    assert 0.7 * eager_change < compiled_change < 1.3 * eager_change
