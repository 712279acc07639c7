"""The int8 format with its head kept in float32 (``python -m convert``'s default, ``--head auto``: from the global
average pool before the dense layer where the model has one, else from the dense layer; ``--head int8``: full
integer).

A full-integer model hands its logits from one int8 tensor to the softmax. On the shipped student that tensor's step
is 0.080 (``python -m convert.layers``: 255 steps span the logits' range, about 20), so two classes whose logits
are closer than that come out of the model in whichever order rounding puts them (what it costs the shipped models:
README, Results, int8). Nothing in the float model can narrow that range much: adding one linear function of the
features to every logit leaves the softmax as it is, but hardly narrows the range.

TFLite's selective quantisation keeps chosen ops in float inside an otherwise integer model
(``tf.lite.experimental.QuantizationDebugger`` with ``denylisted_nodes``): here every op from the first
fully-connected layer on (the classifier's dense layer and softmax, and the mirror averaging after them), found in
a float conversion of the same SavedModel. The convolutions stay int8 (weights and activations); the input and
output stay int8 with the full-integer format's scales (``fully_quantize``), so a runtime sees the same contract;
the head's dense layer (256 x 7 weights on the shipped student) computes in float32 between a dequantise and a
quantise op. Each manifest entry records which head its file has (``head``).

``float32-pool`` starts the float head one op earlier, at the global average pool that feeds the dense layer: the
pooled features then reach the dense layer without being rounded to int8 (on the shipped student that rounding is
the largest single error left after the last convolution: ``reports/quantisation/layers.md``, the ``MEAN`` row).
The pool averages a 6x6 map, so it costs little in float.
"""

from __future__ import annotations

from pathlib import Path

# the full-integer format's head: float32 from the pool before the dense layer when there is one, else from the dense
# layer (auto); int8; float32 from the dense layer on; float32 from the pool before it
HEAD_PRECISIONS: tuple[str, ...] = ("auto", "int8", "float32", "float32-pool")
FLOAT_HEADS: frozenset[str] = frozenset(HEAD_PRECISIONS) - {"int8"}  # the heads kept in float32
# float32 from the dense layer shipped in session 32 (reports/compare/int8-float-head), from the pool in session 41
# (reports/compare/int8-pool-mse); auto keeps a model without that pool (the paper recipe, flatten + dense) converting
DEFAULT_HEAD = "auto"
HEAD_START_OP = "FULLY_CONNECTED"  # the head begins at the first op of this kind
POOL_OP = "MEAN"  # float32-pool: the op right before it, when it is a global average pool


def _ops(model_content: bytes) -> list[tuple[str, str, str]]:
    """``(op name, first output tensor name, its dtype name)`` of every op of a flatbuffer, in execution order."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_content)
    tensors = interpreter.get_tensor_details()
    out = []
    for op in interpreter._get_ops_details():  # the interpreter's own op list (no public accessor)
        first = tensors[op["outputs"][0]]
        out.append((op["op_name"], first["name"], first["dtype"].__name__))
    return out


def head_start(ops: list[tuple[str, str, str]], head: str = "float32") -> int:
    """Where a float ``head`` begins in ``ops`` (:func:`_ops`): the first fully-connected op, or for
    ``float32-pool`` the global average pool right before it (``auto``: that pool when there is one, else the dense
    layer). Raises ValueError when the model has no such op."""
    start = next((i for i, (name, _, _) in enumerate(ops) if name == HEAD_START_OP), None)
    if start is None:
        raise ValueError(f"no {HEAD_START_OP} op in the model: no dense head to keep in float32")
    pooled = start > 0 and ops[start - 1][0] == POOL_OP
    if head == "auto":
        return start - 1 if pooled else start
    if head == "float32-pool":
        if not pooled:
            before = ops[start - 1][0] if start else "nothing"
            raise ValueError(f"head float32-pool: the dense layer follows {before}, not a global average pool "
                             f"({POOL_OP}): use --head float32")
        return start - 1
    return start


def head_nodes(saved_model_dir: Path, head: str = "float32") -> list[str]:
    """Output tensor names of every op from where ``head`` begins (:func:`head_start`) on, in the float conversion of
    the SavedModel in ``saved_model_dir`` (the names the quantiser's denylist matches)."""
    import tensorflow as tf

    ops = _ops(bytes(tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir)).convert()))
    return [tensor for _, tensor, _ in ops[head_start(ops, head):]]


def float_head_nodes(converter, saved_model_dir: Path, head: str = "float32") -> list[str]:
    """:func:`head_nodes` of ``saved_model_dir``, with ``converter`` (set up for the int8 format over it) allowed the
    float ops they need beside the integer ones. Raises ValueError when the model has no such head."""
    import tensorflow as tf

    nodes = head_nodes(saved_model_dir, head)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    return nodes


def float_head_model(converter, saved_model_dir: Path, calibration, head: str = "float32") -> bytes:
    """The full-integer flatbuffer of ``converter`` (set up for the int8 format over ``saved_model_dir``) with its
    ``head`` (:func:`head_nodes`) left in float32. Raises ValueError when the model has no such head."""
    import tensorflow as tf

    from convert.converter import representative_images

    nodes = float_head_nodes(converter, saved_model_dir, head)
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=nodes, fully_quantize=True)
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=representative_images(calibration[:4]), debug_options=options
    )
    return bytes(debugger.get_nondebug_quantized_model())


def float_ops(model_content: bytes) -> list[str]:
    """The names of the ops of a flatbuffer whose output is float32 (what the manifest's ``head`` is read from)."""
    return [name for name, _, dtype in _ops(model_content) if dtype == "float32"]


def head_precision(model_content: bytes) -> str:
    """Which head a full-integer flatbuffer has, read from its float ops: ``int8`` (none), ``float32-pool`` (the first
    float op after the dequantise is the pool) or ``float32``."""
    computed = [name for name in float_ops(model_content) if name != "DEQUANTIZE"]
    if not computed:
        return "int8"
    return "float32-pool" if computed[0] == POOL_OP else "float32"
