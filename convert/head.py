"""The int8 format with its dense head kept in float32 (``python -m convert``'s default; ``--head int8``: full integer).

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
"""

from __future__ import annotations

from pathlib import Path

HEAD_PRECISIONS: tuple[str, ...] = ("int8", "float32")  # the full-integer format's head: int8, or float32
DEFAULT_HEAD = "float32"  # shipped since session 32 (reports/compare/int8-float-head)
HEAD_START_OP = "FULLY_CONNECTED"  # the head begins at the first op of this kind


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


def head_nodes(saved_model_dir: Path) -> list[str]:
    """Output tensor names of every op from the first fully-connected layer on, in the float conversion of the
    SavedModel in ``saved_model_dir`` (the names the quantiser's denylist matches). Empty without such a layer."""
    import tensorflow as tf

    ops = _ops(bytes(tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir)).convert()))
    start = next((i for i, (name, _, _) in enumerate(ops) if name == HEAD_START_OP), None)
    return [] if start is None else [tensor for _, tensor, _ in ops[start:]]


def float_head_nodes(converter, saved_model_dir: Path) -> list[str]:
    """:func:`head_nodes` of ``saved_model_dir``, with ``converter`` (set up for the int8 format over it) allowed the
    float ops they need beside the integer ones. Raises ValueError when the model has no fully-connected layer."""
    import tensorflow as tf

    nodes = head_nodes(saved_model_dir)
    if not nodes:
        raise ValueError(f"no {HEAD_START_OP} op in the model: no dense head to keep in float32")
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    return nodes


def float_head_model(converter, saved_model_dir: Path, calibration) -> bytes:
    """The full-integer flatbuffer of ``converter`` (set up for the int8 format over ``saved_model_dir``) with its
    head (:func:`head_nodes`) left in float32. Raises ValueError when the model has no fully-connected layer."""
    import tensorflow as tf

    from convert.converter import representative_images

    nodes = float_head_nodes(converter, saved_model_dir)
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=nodes, fully_quantize=True)
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=representative_images(calibration[:4]), debug_options=options
    )
    return bytes(debugger.get_nondebug_quantized_model())


def float_ops(model_content: bytes) -> list[str]:
    """The names of the ops of a flatbuffer whose output is float32 (what the manifest's ``head`` is read from)."""
    return [name for name, _, dtype in _ops(model_content) if dtype == "float32"]
