"""Class weights against one knob at inference: the prior-correction trade-off (``python -m benchmarks tradeoff``).

For each variant's model (int8 by default, as the device runs it), its scores on the evaluation split are corrected
by the training split's class priors raised to ``tau`` (``core.balance.adjust``, what ``python -m device --balance
TAU`` does) for tau from 0 to 1, and scored: accuracy, balanced accuracy, macro-F1, per-class recall and precision.
The weighted model at tau 0 is the class-weighting answer on the same axes. Writes ``tradeoff.md``, ``tradeoff.json``
and ``tradeoff.png`` (matplotlib, when installed).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from benchmarks.errors import BenchError
from core.balance import TAUS, curve_table, prior_vector, tradeoff_answer, tradeoff_curve
from core.fileio import atomic_write_json, atomic_write_text


def measure(models_dir: Path, data: Path, fmt: str = "int8", taus: tuple[float, ...] = TAUS) -> dict:
    """The curve of every variant's ``fmt`` model on the evaluation split of ``data``."""
    from benchmarks.accuracy import tflite_predict
    from benchmarks.data import load_eval_faces
    from benchmarks.models import find_models
    from core.manifest import find_entry

    models = find_models(models_dir, formats=[fmt])
    if not models.models:
        raise BenchError(f"models folder {models_dir}: no {fmt} models")
    priors = {}
    for model in models.models:  # every model's priors checked before the faces load or a model runs
        entry = find_entry(models.manifest, model.path.name) or {}
        if not entry.get("class_priors"):
            raise BenchError(f"{model.path}: manifest.json records no class_priors (python -m convert.priors "
                             "--data ... records the training split's)")
        try:
            priors[model.path] = (entry["class_priors"], prior_vector(entry["class_priors"]))
        except ValueError as exc:
            raise BenchError(f"{models_dir / 'manifest.json'}: {model.path.name}: {exc}") from exc
    faces = load_eval_faces(data)
    result: dict = {"split": faces.split, "faces": len(faces), "format": fmt, "data": Path(data).name,
                    "notes": faces.notes, "variants": {}}
    for model in models.models:
        recorded, vector = priors[model.path]
        probs = tflite_predict(model, faces.x)
        result["variants"][model.variant] = {
            "model": model.path.name, "views": 2 if model.mirror_in_graph else 1,
            "class_priors": recorded,
            "rows": tradeoff_curve(probs, faces.y, vector, taus),
        }
    return result


def render(result: dict, command: str, machine: str) -> str:
    lines = [
        "# Class weights against prior correction at inference",
        "",
        f"`{command}` on {machine}. {result['faces']} faces of the **{result['split']}** split of "
        f"`{result['data']}`, {result['format']} models as the device runs them; priors: each model's training "
        "split class shares (manifest `class_priors`). tau 0 is the model as trained; `python -m device --balance "
        "TAU` applies the same correction. Figures in %.",
        "",
    ]
    for note in result["notes"]:
        lines += [f"Note: {note}", ""]
    for variant, v in result["variants"].items():
        lines += [f"## {variant} ({v['model']}, {v['views']} view(s))", "", *curve_table(v["rows"])]
        lines.append("")
    if {"unweighted", "weighted"} <= set(result["variants"]):
        lines += ["## Reading", "", tradeoff_answer(result), ""]
    lines += ["![trade-off](tradeoff.png)", ""]
    return "\n".join(lines)


def plot(result: dict, path: Path) -> bool:
    """tradeoff.png (:func:`train.plots.plot_tradeoff`, which needs no TensorFlow); False when matplotlib is not
    installed."""
    if importlib.util.find_spec("matplotlib") is None:
        return False
    from train.plots import plot_tradeoff

    plot_tradeoff({v: r["rows"] for v, r in result["variants"].items()}, path,
                  f"Prior correction ({result['format']}, {result['split']})")
    return True


def write(result: dict, out: Path, command: str, machine: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "tradeoff.json", {"command": command, "machine": machine, **result})
    plot(result, out / "tradeoff.png")
    return atomic_write_text(out / "tradeoff.md", render(result, command, machine))
