"""How the int8-weight formats round each weight: to the nearest step, then corrected so that every output channel's
kernel keeps its sum.

TFLite stores a convolution's or dense layer's weights per output channel as int8 steps of ``max|w| / 127`` (the
batch normalisation that follows folded in first) and rounds each weight to the nearest step. The errors of a
channel's weights add up in its response to a flat patch, and for the kernels that compare neighbouring pixels
(weights of both signs summing to about zero, as most first-layer kernels do) that response is most of what they
must get right: nearest rounding of nine weights moves a kernel's sum by up to 4.5 steps, and on a face's flat skin
the channel answers with an offset its float model never had. The parity report of a conversion shows what it buys:
int8's agreement with the float model.

:func:`sum_preserving_round` rounds to the nearest step and then moves the fewest weights one step (those whose
rounding was closest to a tie, never the channel's largest, which fixes the step) until the channel's integer sum
is its float sum rounded. :func:`int8_grid_weights` puts those weights into a Keras model for its export (already on
the grid, so the converter's own rounding leaves them there) and its float weights back afterwards. It is an option
of the full-integer format (``python -m convert --weight-rounding sum-kept``; the dynamic-range converter leaves
tensors under 1,024 weights in float, where a grid would only add rounding), checked, like every format, against
the float model as trained. Judged alone against the shipped models (reports/compare/int8-sum-kept-rounding), it
did not clear the ship rule for a new student; with the float head (:mod:`convert.head`) it shipped in session 32
under the rule for a conversion of the same float models (reports/compare/int8-float-head), and is the default.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

INT8_MAX = 127  # TFLite's symmetric int8 weights: -127..127 steps of max|w| / 127
# how the full-integer format's weights may be rounded: the converter's nearest step, or sum-kept (the default)
WEIGHT_ROUNDINGS: tuple[str, ...] = ("nearest", "sum-kept")
DEFAULT_WEIGHT_ROUNDING = "sum-kept"


def sum_preserving_round(steps: np.ndarray) -> np.ndarray:
    """``steps`` (a kernel divided by its per-channel step; output channels on the last axis) rounded to integers
    that keep each channel's sum: nearest rounding first, then, in the channel whose integer sum differs from its
    float sum rounded, the weights whose rounding left the largest residual toward that difference move one step
    each (weights at the channel's extreme, which sets the step, never move). Returned as float64 integers."""
    x = np.asarray(steps, dtype=np.float64)
    flat = x.reshape(-1, x.shape[-1])
    q = np.round(flat)
    residual = flat - q  # in [-0.5, 0.5]: how far each weight was from rounding the other way
    short = np.round(flat.sum(axis=0)) - q.sum(axis=0)  # steps each channel's sum is missing
    below_max = np.abs(flat) < np.abs(flat).max(axis=0) - 1e-9
    for c in np.flatnonzero(short):
        need = int(short[c])
        direction = 1.0 if need > 0 else -1.0
        movable = below_max[:, c] & (np.abs(q[:, c] + direction) <= INT8_MAX)
        # most movable first: the largest residual in the direction the sum must go
        order = np.argsort(-direction * residual[:, c], kind="stable")
        chosen = [j for j in order if movable[j]][: abs(need)]
        q[chosen, c] += direction
    return q.reshape(x.shape)


def _scale_after(layer, model) -> np.ndarray | float:
    """The per-channel factor the batch normalisation right after ``layer`` multiplies its outputs by (folded into
    the kernel by the converter), or 1 when none follows."""
    import keras

    for other in model.layers:
        if isinstance(other, keras.layers.BatchNormalization) and other.input is layer.output:
            gamma = other.gamma.numpy() if other.scale else 1.0
            return gamma / np.sqrt(other.moving_variance.numpy() + other.epsilon)
    return 1.0


def _weighted_layers(model) -> Iterator[tuple[object, object]]:
    """Every convolution and dense layer of ``model`` and of the models nested in it, with the model it sits in."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _weighted_layers(layer)
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            yield layer, model


def grid_kernel(kernel: np.ndarray, scale: np.ndarray | float) -> np.ndarray:
    """``kernel`` moved onto TFLite's per-channel int8 grid with :func:`sum_preserving_round`, where ``scale`` is the
    per-output-channel factor folded into it before quantisation (a following batch normalisation's; channels it
    zeroes are left as they are)."""
    folded = kernel * scale
    step = np.abs(folded).reshape(-1, folded.shape[-1]).max(axis=0) / INT8_MAX
    live = (step > 0) & (np.broadcast_to(scale, step.shape) != 0)
    safe_step = np.where(live, step, 1.0)
    snapped = sum_preserving_round(folded / safe_step) * safe_step
    with np.errstate(divide="ignore", invalid="ignore"):
        unfolded = snapped / scale
    return np.where(live, unfolded, kernel).astype(kernel.dtype)


@contextmanager
def int8_grid_weights(model) -> Iterator[None]:
    """Within the block, every kernel of ``model`` (nested models included) lies on the int8 grid of
    :func:`grid_kernel`; the float weights are put back on leaving it, also after an error."""
    saved = []
    try:
        for layer, owner in _weighted_layers(model):
            kernel = layer.kernel.numpy()
            saved.append((layer, kernel))
            layer.kernel.assign(grid_kernel(kernel, _scale_after(layer, owner)))
        yield
    finally:
        for layer, kernel in saved:
            layer.kernel.assign(kernel)
