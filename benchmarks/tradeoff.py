"""Class weights against one knob at inference: the prior-correction trade-off (``python -m benchmarks tradeoff``).

For each variant's model (int8 by default, as the device runs it), its scores on the evaluation split are corrected
by the training split's class priors raised to ``tau`` (``core.balance.adjust``, what ``python -m device --balance
TAU`` does) for tau from 0 to 1, and scored: accuracy, balanced accuracy, macro-F1, per-class recall and precision.
The weighted model at tau 0 is the class-weighting answer on the same axes. Writes ``tradeoff.md``, ``tradeoff.json``
and ``tradeoff.png`` (matplotlib, when installed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.errors import BenchError
from core.balance import adjust, prior_vector, tradeoff_answer
from core.fileio import atomic_write_json, atomic_write_text
from core.labels import EMOTIONS
from core.metrics import classification_metrics

TAUS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))


def curve(probs: np.ndarray, y: np.ndarray, priors: np.ndarray, taus: tuple[float, ...] = TAUS) -> list[dict]:
    """One row per tau: overall figures and per-class recall/precision (fractions)."""
    rows = []
    for tau in taus:
        m = classification_metrics(y, adjust(probs, priors, tau))
        rows.append({
            "tau": tau, "accuracy": m["accuracy"], "balanced_accuracy": m["balanced_accuracy"],
            "macro_f1": m["macro_f1"],
            "recall": {c: m["per_class"][c]["recall"] for c in EMOTIONS},
            "precision": {c: m["per_class"][c]["precision"] for c in EMOTIONS},
        })
    return rows


def measure(models_dir: Path, data: Path, fmt: str = "int8", taus: tuple[float, ...] = TAUS) -> dict:
    """The curve of every variant's ``fmt`` model on the evaluation split of ``data``."""
    from benchmarks.accuracy import tflite_predict
    from benchmarks.data import load_eval_faces
    from benchmarks.models import find_models
    from core.manifest import find_entry

    models = find_models(models_dir, formats=[fmt])
    if not models.models:
        raise BenchError(f"models folder {models_dir}: no {fmt} models")
    faces = load_eval_faces(data)
    result: dict = {"split": faces.split, "faces": len(faces), "format": fmt, "data": Path(data).name,
                    "notes": faces.notes, "variants": {}}
    for model in models.models:
        entry = find_entry(models.manifest, model.path.name) or {}
        if not entry.get("class_priors"):
            raise BenchError(f"{model.path}: manifest.json records no class_priors (python -m convert.priors "
                             "--data ... records the training split's)")
        probs = tflite_predict(model, faces.x)
        result["variants"][model.variant] = {
            "model": model.path.name, "views": 2 if model.mirror_in_graph else 1,
            "class_priors": entry["class_priors"],
            "rows": curve(probs, faces.y, prior_vector(entry["class_priors"]), taus),
        }
    return result


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


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
        lines += [f"## {variant} ({v['model']}, {v['views']} view(s))", "",
                  "| tau | accuracy | balanced accuracy | macro-F1 | recall disgust | precision disgust | recall fear "
                  "| precision fear | recall happy |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in v["rows"]:
            lines.append(f"| {r['tau']:.1f} | {_pct(r['accuracy'])} | {_pct(r['balanced_accuracy'])} | "
                         f"{_pct(r['macro_f1'])} | {_pct(r['recall']['disgust'])} | {_pct(r['precision']['disgust'])} "
                         f"| {_pct(r['recall']['fear'])} | {_pct(r['precision']['fear'])} | "
                         f"{_pct(r['recall']['happy'])} |")
        lines.append("")
    if {"unweighted", "weighted"} <= set(result["variants"]):
        lines += ["## Reading", "", tradeoff_answer(result), ""]
    lines += ["![trade-off](tradeoff.png)", ""]
    return "\n".join(lines)


def plot(result: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for variant, v in result["variants"].items():
        xs = [100 * r["balanced_accuracy"] for r in v["rows"]]
        ys = [100 * r["accuracy"] for r in v["rows"]]
        ax.plot(xs, ys, marker="o", ms=3, label=f"{variant}: tau 0..{v['rows'][-1]['tau']:.0f}")
        ax.annotate("tau 0", (xs[0], ys[0]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("balanced accuracy %")
    ax.set_ylabel("accuracy %")
    ax.set_title(f"Prior correction ({result['format']}, {result['split']})")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write(result: dict, out: Path, command: str, machine: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "tradeoff.json", {"command": command, "machine": machine, **result})
    plot(result, out / "tradeoff.png")
    return atomic_write_text(out / "tradeoff.md", render(result, command, machine))
