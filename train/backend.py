"""The Keras backend a run trains on: TensorFlow (the default, and what conversion needs), or JAX or PyTorch where
TensorFlow is not installed (a GPU machine that has those and no TensorFlow, see ``train/gpu_job.py``).

Keras 3 runs the same model, optimiser, callbacks and ``.keras`` checkpoints on each; what differs, and lives here,
is how threads are set, which accelerators there are (for the precision decision and the run's config), the
framework's version, and the distribution scope. The input pipeline is :mod:`train.batches`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import keras

BACKENDS = ("tensorflow", "jax", "torch")


@dataclass(frozen=True)
class Accelerator:
    name: str
    compute_capability: tuple[int, int] = (0, 0)  # NVIDIA's (major, minor); (0, 0) when unknown


@dataclass
class Backend:
    """What the trainer needs from the framework under Keras."""

    name: str
    version: str
    accelerators: list[Accelerator] = field(default_factory=list)
    scope: contextlib.AbstractContextManager = field(default_factory=contextlib.nullcontext)

    def record(self) -> dict:
        """The run config's lines about the framework it trained on."""
        return {"backend": self.name, self.name: self.version, "gpus": [a.name for a in self.accelerators]}


def _capability(text: object) -> tuple[int, int]:
    """(major, minor) from "9.0", (9, 0) or None."""
    if isinstance(text, tuple | list) and len(text) >= 2:
        return int(text[0]), int(text[1])
    try:
        major, minor = str(text).split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return (0, 0)


def _tensorflow(threads: int) -> Backend:
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
    gpus = tf.config.list_physical_devices("GPU")
    accelerators = [Accelerator(g.name, _capability(tf.config.experimental.get_device_details(g)
                                                    .get("compute_capability"))) for g in gpus]
    strategy = tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    return Backend("tensorflow", tf.__version__, accelerators, strategy.scope())


def _jax(threads: int) -> Backend:
    import jax

    # JAX takes its CPU thread count from XLA_FLAGS before it starts; ``threads`` is not applied afterwards
    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    return Backend("jax", jax.__version__,
                   [Accelerator(getattr(d, "device_kind", str(d)), _capability(getattr(d, "compute_capability", None)))
                    for d in gpus])


def _torch(threads: int) -> Backend:
    import torch

    if threads:
        torch.set_num_threads(threads)
    gpus = [Accelerator(torch.cuda.get_device_name(i), torch.cuda.get_device_capability(i))
            for i in range(torch.cuda.device_count())]
    return Backend("torch", torch.__version__, gpus)


def configure(threads: int = 0) -> Backend:
    """Set threads (0: the framework's default) on Keras' backend and describe it."""
    name = keras.backend.backend()
    makers = {"tensorflow": _tensorflow, "jax": _jax, "torch": _torch}
    if name not in makers:
        raise RuntimeError(f"Keras backend {name!r}: training supports {', '.join(BACKENDS)} (KERAS_BACKEND)")
    return makers[name](threads)
