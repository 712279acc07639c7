"""The training input pipeline: shuffled, batched, augmented outside the model (augmentation layers inside the
graph would break TFLite conversion).

On TensorFlow it is a ``tf.data`` pipeline (augmentation in parallel with training); on the other Keras backends
(JAX, PyTorch) a ``keras.utils.PyDataset`` of the same batches, reshuffled every epoch from the run's seed, with the
same augmentation layers applied per batch.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import keras
import numpy as np

# Seeds of the shuffling and augmentation streams of a resumed run are this far apart per epoch already done.
RESUME_SEED_STRIDE = 1_000_003


def stream_seed(seed: int, epochs_done: int) -> int:
    """The seed of a run's shuffling and augmentation streams when it (re)starts after ``epochs_done`` epochs: the
    run's own seed for a fresh start, another one for each point it resumes from. The streams restart from their seed
    in every process, so a resumed run on the run's seed would see its first epochs' images again in the same order,
    and largely with the same transforms (all but the parallel map's ordering), and a large model memorises them:
    train accuracy climbs while validation stalls, as teacher-vgg-60ep showed after its second resume."""
    return seed if epochs_done <= 0 else seed + RESUME_SEED_STRIDE * epochs_done


@dataclass(frozen=True)
class Alternates:
    """Other images of the same faces (the device's crops, :mod:`core.devicecrops`): each time image ``i`` is drawn,
    with probability ``share`` it is replaced by ``images[i]`` where ``available[i]``."""

    images: np.ndarray  # shaped like the training images
    available: np.ndarray  # (N,) bool
    share: float

    def check(self, x: np.ndarray) -> None:
        if self.images.shape != x.shape or self.available.shape != (len(x),) or self.images.dtype != x.dtype:
            raise ValueError(f"batches: alternates {self.images.shape} {self.images.dtype} / {self.available.shape} "
                             f"for images {x.shape} {x.dtype}")
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(f"batches: alternates share {self.share}, expected 0..1")

    def chosen(self, index: np.ndarray, draws: np.ndarray) -> np.ndarray:
        """Which of the images at ``index`` are replaced, given one uniform draw in [0, 1) each."""
        return self.available[index] & (draws < self.share)


class CompiledAugmenter:
    """The augmentation layers as one call per batch: on JAX one compiled function (``jax.jit`` of the layers'
    ``stateless_call``, their seed states carried from call to call), since eager JAX dispatches every small op on
    its own: 70 ms a batch of 64 on an H200 against 5 ms for the training step, so the GPU mostly waited. Calls from
    the loader's threads take turns on the seed states. Other backends call the layers as they are."""

    def __init__(self, augmenter) -> None:
        self.augmenter = augmenter
        self._compiled = None
        if keras.backend.backend() == "jax":
            import jax

            self._state = None  # the layers' seed states, read once the layers are built (first call)
            self._compiled = jax.jit(lambda state, x: augmenter.stateless_call([], state, x, training=True))
            self._lock = threading.Lock()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self._compiled is None:
            return self.augmenter(x, training=True)
        with self._lock:
            if self._state is None:
                if not self.augmenter.built:
                    self.augmenter.build((None, *x.shape[1:]))
                self._state = [v.value for v in self.augmenter.non_trainable_variables]
            y, self._state = self._compiled(self._state, x)
        return np.asarray(y)


class AugmentedBatches(keras.utils.PyDataset):
    """``(augmented x, targets[, sample weights])`` batches of ``arrays`` in a new seeded order every epoch."""

    def __init__(self, arrays: tuple[np.ndarray, ...], batch_size: int, seed: int, augmenter, workers: int = 1,
                 alternates: Alternates | None = None) -> None:
        super().__init__(workers=workers, use_multiprocessing=False)
        if not arrays or any(len(a) != len(arrays[0]) for a in arrays):
            raise ValueError(f"batches: arrays of unequal length {[len(a) for a in arrays]}")
        if alternates is not None:
            alternates.check(arrays[0])
        self.arrays, self.batch_size, self.alternates = arrays, batch_size, alternates
        self.augment = CompiledAugmenter(augmenter)
        self._rng = np.random.default_rng(seed)
        self._mix_rng = np.random.default_rng([seed, 1])
        self._order = self._rng.permutation(len(arrays[0]))

    def __len__(self) -> int:
        return int(np.ceil(len(self.arrays[0]) / self.batch_size))

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        take = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        x, *rest = (a[take] for a in self.arrays)
        if self.alternates is not None:
            use = self.alternates.chosen(take, self._mix_rng.random(len(take)))
            x = np.where(use.reshape(-1, *[1] * (x.ndim - 1)), self.alternates.images[take], x)
        return (self.augment(x.astype(np.float32)), *rest)

    def on_epoch_end(self) -> None:
        self._order = self._rng.permutation(len(self.arrays[0]))


class Batches(keras.utils.PyDataset):
    """``arrays`` in order, ``batch_size`` at a time, as float32 inputs (validation)."""

    def __init__(self, arrays: tuple[np.ndarray, ...], batch_size: int) -> None:
        super().__init__()
        self.arrays, self.batch_size = arrays, batch_size

    def __len__(self) -> int:
        return int(np.ceil(len(self.arrays[0]) / self.batch_size))

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        x, *rest = (a[index * self.batch_size:(index + 1) * self.batch_size] for a in self.arrays)
        return (x.astype(np.float32), *rest)


def training_batches(arrays: tuple[np.ndarray, ...], batch_size: int, seed: int, augmenter, workers: int = 1,
                     alternates: Alternates | None = None):
    """The training batches for Keras' backend: ``tf.data`` on TensorFlow, :class:`AugmentedBatches` elsewhere
    (``workers`` threads prepare batches ahead: more than one where an accelerator does the training). With
    ``alternates``, images are swapped for their alternates before augmentation, drawn anew every epoch."""
    if keras.backend.backend() != "tensorflow":
        return AugmentedBatches(arrays, batch_size, seed, augmenter, workers, alternates)
    import tensorflow as tf

    if alternates is None:
        data = tf.data.Dataset.from_tensor_slices(arrays)
    else:  # each element carries its alternate along: no large constant captured in the map's graph
        alternates.check(arrays[0])
        data = tf.data.Dataset.from_tensor_slices((alternates.images, alternates.available, *arrays))
    data = data.shuffle(len(arrays[0]), seed=seed, reshuffle_each_iteration=True)
    if alternates is not None:
        draws = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True)

        def swap(element, draw):
            alternate, available, x, *rest = element
            u = tf.cast(draw % (1 << 24), tf.float32) / float(1 << 24)  # uniform in [0, 1)
            use = tf.logical_and(available, u < alternates.share)
            return (tf.where(use, alternate, x), *rest)

        data = tf.data.Dataset.zip(data, draws).map(swap, num_parallel_calls=tf.data.AUTOTUNE)
    return (
        data
        .batch(batch_size)
        .map(lambda x, *rest: (augmenter(tf.cast(x, tf.float32), training=True), *rest),
             num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def validation_batches(x: np.ndarray, y: np.ndarray, batch_size: int = 256):
    """The validation set as Keras evaluates it each epoch (in order, no augmentation)."""
    if keras.backend.backend() != "tensorflow":
        return Batches((x, y), batch_size)
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((x.astype(np.float32), y)).batch(batch_size)
