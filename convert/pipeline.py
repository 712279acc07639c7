"""Convert each variant's best checkpoint to every format, score it against the Keras model, write the manifest.

Everything written is atomic: each ``.tflite`` file, ``manifest.json``, ``parity.json`` and ``parity.md``.
A format that fails to convert has its old file and manifest entry removed, so nothing stale ships.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from convert.converter import calibration_sample, convert, load_checkpoint, mirror_averaged
from convert.head import DEFAULT_HEAD
from convert.ranges import DEFAULT_ACTIVATION_RANGES, cut_record
from convert.rounding import DEFAULT_WEIGHT_ROUNDING
from core.balance import priors_from_counts
from core.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text, sha256_file
from core.formats import FORMATS_BY_NAME, model_path
from core.labels import EMOTIONS
from core.manifest import MANIFEST_NAME, conversions, read_manifest, write_manifest
from core.metrics import classification_metrics, near_tie_note, top1_agreement
from core.paths import shown
from core.provenance import command_line, provenance
from device.classifier import ClassifierOptions, EmotionClassifier
from train.recipes import RECIPES
from train.teachers import keep_teacher_file, names_model_file, without_views

MANIFEST = MANIFEST_NAME


@dataclass
class ConvertJob:
    variant: str
    checkpoint: Path
    formats: tuple[str, ...]


@dataclass
class ConvertResult:
    entries: list[dict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    int8_violations: list[str] = field(default_factory=list)


def tensor_contract(path: Path) -> dict:
    """Input/output dtype, shape and quantisation, read back from the written ``.tflite`` itself."""
    clf = EmotionClassifier(ClassifierOptions(model_path=path, num_threads=1))
    return {
        "input": {"dtype": np.dtype(clf.input_dtype).name, "shape": [1, 48, 48, 1],
                  "scale": float(clf.input_quantization[0]), "zero_point": int(clf.input_quantization[1])},
        "output": {"dtype": np.dtype(clf.output_dtype).name, "shape": [1, len(EMOTIONS)],
                   "scale": float(clf.output_quantization[0]), "zero_point": int(clf.output_quantization[1])},
    }


def _prior_runs(runs_root: Path, config: dict) -> list[str]:
    """Every run a run needed first (its starting run, its teachers, a soup's members, theirs in turn), each once,
    from config.json."""
    found: list[str] = []
    pending = _needed(config)
    while pending:
        name = without_views(pending.pop(0) or "")  # a teacher's pinned views name no other run
        if not name or name in found:
            continue
        found.append(name)
        p = runs_root / name / "config.json"
        if p.exists():
            pending += _needed(json.loads(p.read_text()))
    return found


def _needed(config: dict) -> list[str | None]:
    """The runs one run's config.json says it needed: its starting run, its teachers, the runs a soup averaged."""
    return [(config.get("init_from") or {}).get("run"), *((config.get("teachers") or {}).get("runs", [])),
            *((config.get("soup") or {}).get("runs", []))]


def _inherited_teachers(runs_root: Path, needed: list[str]) -> dict | None:
    """For a run that distilled nothing itself (a weight average, a plain tail): the teachers record of the nearest
    run it needed (``needed``: :func:`_prior_runs`) that did distil, with ``"via"`` naming that run; None when no run
    in its chain distilled."""
    for name in needed:
        p = runs_root / name / "config.json"
        teachers = json.loads(p.read_text()).get("teachers") if p.is_file() else None
        if teachers:
            return {**teachers, "via": name}
    return None


def _prior_walls(runs_root: Path, needed: list[str]) -> list[tuple[str, float | None]]:
    """(run, training wall seconds or None) for each run in ``needed`` (:func:`_prior_runs`)."""
    walls = []
    for name in needed:
        p = runs_root / name / "metrics.json"
        walls.append((name, json.loads(p.read_text()).get("train_wall_s") if p.exists() else None))
    return walls


def _budget(info: dict, own_wall_s: float, prior: list[tuple[str, float | None]], total_s: float) -> str:
    """The training budget in words: this run's epochs and wall time, and the runs it needed first."""
    maths = f" in {info['precision']} maths" if info.get("precision", "float32") != "float32" else ""
    text = (f"{info.get('epochs')} epochs of the {info.get('recipe')} recipe{maths}, {own_wall_s / 60:.0f} min wall "
            f"on {info.get('threads')} CPU thread(s) of {info.get('host')}"
            + (f" with GPUs {info['gpus']}" if info.get("gpus") else ", no GPU"))
    if prior:
        parts = [f"{name} ({wall / 60:.0f} min)" if wall is not None else
                 f"{name} (a converted model: its own budget is in the manifest it shipped with)"
                 if names_model_file(name) else f"{name} (time unknown)" for name, wall in prior]
        text += f", after the runs it needed first: {', '.join(parts)}; {total_s / 60:.0f} min in all"
    return text


def class_priors_of_run(checkpoint: Path) -> dict[str, float] | None:
    """The class shares of the training split the run trained on (its config.json's data summary), for the
    device's ``--balance`` prior correction; None when the run did not record them."""
    config = checkpoint.parent / "config.json"
    if not config.is_file():
        return None
    train = (json.loads(config.read_text()).get("data_summary") or {}).get("train") or {}
    try:
        return priors_from_counts([train[name] for name in EMOTIONS])
    except (KeyError, ValueError):
        return None


def _training_info(checkpoint: Path) -> dict:
    run = checkpoint.parent
    info: dict = {"run_dir": shown(run)}
    needed: list[str] = []  # the runs it needed first (none known without its config.json)
    for name in ("config.json", "metrics.json"):
        p = run / name
        if p.exists():
            data = json.loads(p.read_text())
            if name == "config.json":
                info.update({k: data.get(k) for k in ("command", "host", "platform", "seed", "variant", "tensorflow")})
                info["recipe"] = data.get("recipe", {}).get("name")
                info["epochs"] = data.get("recipe", {}).get("epochs")
                # what the run trained in: recorded since Recipe.precision; older runs trained in float32
                info["precision"] = data.get("precision") or data.get("recipe", {}).get("precision", "float32")
                info["threads"] = data.get("threads")
                info["gpus"] = data.get("gpus")
                needed = _prior_runs(run.parent.parent, data)
                info["teachers"] = data.get("teachers") or _inherited_teachers(run.parent.parent, needed)
                info["init_from"] = data.get("init_from")
                if data.get("soup"):
                    info["soup"] = {"runs": data["soup"].get("runs", [])}
            else:
                info["completed_epochs"] = data.get("completed_epochs")
                info["best_epoch"] = data.get("best_epoch")
                info["train_wall_s"] = data.get("train_wall_s")
                own = data.get("train_wall_s") or 0.0
                prior = _prior_walls(run.parent.parent, needed)
                total = own + sum(w or 0.0 for _, w in prior)
                info["budget"] = _budget(info, own, prior, total)
                info["total_train_min"] = round(total / 60, 1)
                info["keras_metrics"] = {
                    s: {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]} for s, m in data.get("splits", {}).items()
                }
    return info


def score(probs: np.ndarray, ref: np.ndarray, y: np.ndarray) -> dict:
    m = classification_metrics(y, probs)
    return {
        "n": m["n"],
        "accuracy": m["accuracy"],
        "macro_f1": m["macro_f1"],
        "balanced_accuracy": m["balanced_accuracy"],
        "per_class_recall": {k: v["recall"] for k, v in m["per_class"].items()},
        **top1_agreement(probs, ref),
        "max_prob_diff": float(np.abs(probs - ref).max()) if len(ref) else 0.0,
    }


def _load_manifest(out_dir: Path) -> dict:
    """The folder's manifest (none: empty); a broken one stops the conversion (ManifestError) rather than being
    silently replaced, which would drop the other variant's entries."""
    return read_manifest(out_dir)


def _save_manifest(out_dir: Path, manifest: dict) -> None:
    """Keep only entries whose file exists with the recorded sha256, sorted, and write atomically."""
    keep = []
    for e in manifest["models"]:
        f = out_dir / e["file"]
        if f.exists() and sha256_file(f) == e["sha256"]:
            keep.append(e)
    order = list(FORMATS_BY_NAME)
    keep.sort(key=lambda e: (e["variant"], order.index(e["format"]) if e["format"] in order else 99))
    manifest["models"] = keep
    write_manifest(out_dir, manifest)


def head_of(fmt, data: bytes) -> str | None:
    """The precision of the dense head of ``data`` (a flatbuffer in format ``fmt``) as the manifest records it, read
    from the file: float32, float32-pool or int8 for the int8 format (:mod:`convert.head`), none for the others
    (their heads compute as the rest of the model does)."""
    if not fmt.int8_io:
        return None
    from convert.head import head_precision

    return head_precision(data)


def weight_rounding_of(fmt, asked: str) -> str | None:
    """How a format's weights were rounded, as the manifest records it: ``asked`` for the full-integer format, the
    converter's nearest step for dynamic-range, none for the float formats."""
    if fmt.int8_io:
        return asked
    return "nearest" if fmt.optimize and not fmt.supported_types else None


def convert_all(
    jobs: list[ConvertJob],
    out_dir: Path,
    eval_splits: dict[str, tuple[np.ndarray, np.ndarray]],
    calibration: tuple[np.ndarray, np.ndarray | None] | None,
    calibration_size: int = 500,
    seed: int = 0,
    max_int8_drop_pp: float = 0.5,
    threads: int = 1,
    command: str = "",
    mirror: bool = True,
    weight_rounding: str = DEFAULT_WEIGHT_ROUNDING,
    head: str = DEFAULT_HEAD,
    activation_ranges: str = DEFAULT_ACTIVATION_RANGES,
    calibration_device_share: float = 0.0,
) -> ConvertResult:
    """Convert, verify and record every job; return entries, failures and int8 threshold violations.

    With ``mirror`` each model is converted as :func:`~convert.converter.mirror_averaged` (face and mirror image,
    scores averaged, in the graph) and checked against that same Keras graph."""
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(out_dir)
    for e in manifest["models"]:  # entries from before per-entry records: the manifest's last conversion wrote them
        e.setdefault("conversion", {k: manifest.get(k) for k in ("command", "created", "host", "platform")})
    result = ConvertResult()
    # Each entry records the conversion that wrote it: converting one variant keeps the other's entries as they were.
    made = provenance(command or command_line(module="convert"))
    conversion = {k: made[k] for k in ("command", "created", "host", "platform")}
    cal = None
    if calibration is not None:
        cal = calibration_sample(calibration[0], calibration[1], calibration_size, seed)
    teacher_names = [t for r in RECIPES.values() for t in r.teachers]  # a file one names is kept, not overwritten
    for job in jobs:
        model = load_checkpoint(job.checkpoint)
        if mirror:
            model = mirror_averaged(model)
        training = _training_info(job.checkpoint)
        priors = class_priors_of_run(job.checkpoint)
        refs = {s: np.asarray(model.predict(x.astype(np.float32), batch_size=512, verbose=0))
                for s, (x, _) in eval_splits.items()}
        keras_scores = {s: score(refs[s], refs[s], y) for s, (_, y) in eval_splits.items()}
        for fmt_name in job.formats:
            fmt = FORMATS_BY_NAME[fmt_name]
            path = model_path(out_dir, job.variant, fmt_name)
            manifest["models"] = [
                e for e in manifest["models"] if not (e["variant"] == job.variant and e["format"] == fmt_name)
            ]
            try:
                cuts: list = []
                data = convert(model, fmt, cal, weight_rounding, head, activation_ranges, cuts)
                if not (path.is_file() and path.read_bytes() == data):  # the same model again replaces nothing
                    kept = keep_teacher_file(path, teacher_names)
                    atomic_write_bytes(path, data)
                    if kept is not None:
                        print(f"kept {path.name}, which a recipe names as a teacher, as {kept}")
                clf = EmotionClassifier(ClassifierOptions(model_path=path, num_threads=threads))
                scores = {s: score(clf.predict_proba(x), refs[s], y) for s, (x, y) in eval_splits.items()}
            except Exception as exc:
                keep_teacher_file(path, teacher_names)  # a file a recipe names is kept before it is removed
                path.unlink(missing_ok=True)
                result.failures.append(f"{job.variant}/{fmt_name}: {exc}")
                print(f"FAILED {job.variant}/{fmt_name}: {exc}", file=sys.stderr)
                continue
            entry = {
                "variant": job.variant,
                "format": fmt_name,
                "description": fmt.description,
                "file": path.name,
                "size_bytes": path.stat().st_size,
                "sha256": sha256_file(path),
                **tensor_contract(path),
                "labels": list(EMOTIONS),
                "mirror_average": mirror,
                "class_priors": priors,  # the training split's class shares (device --balance)
                "checkpoint": shown(job.checkpoint),
                "conversion": conversion,
                "training": training,
                "calibration_size": int(len(cal)) if (cal is not None and fmt.representative_data) else None,
                # the share of those faces that were the device's crops (convert.converter.mixed_calibration)
                "calibration_device_share": calibration_device_share if fmt.representative_data else None,
                "weight_rounding": weight_rounding_of(fmt, weight_rounding),
                "head": head_of(fmt, data),
                # the full-integer format's activation ranges (convert.ranges); none for the others
                "activation_ranges": activation_ranges if fmt.int8_io else None,
                **({"activation_cuts": [cut_record(c) for c in cuts]} if cuts else {}),
                "keras": keras_scores,
                "accuracy": scores,
            }
            manifest["models"].append(entry)
            result.entries.append(entry)
            if fmt.int8_io:
                for s, sc in scores.items():
                    drop_pp = 100 * (keras_scores[s]["accuracy"] - sc["accuracy"])
                    if drop_pp > max_int8_drop_pp:
                        result.int8_violations.append(
                            f"{path}: int8 accuracy on {s} is {drop_pp:.2f} pp below its float model "
                            f"(limit {max_int8_drop_pp} pp): calibration is broken or insufficient"
                        )
    manifest.update(
        {
            "contract": {
                "input": "1x48x48x1 grayscale pixels 0..255 (float32, or int8 with the tensor's scale/zero-point)",
                "output": "7 scores in label order (float32 probabilities, or int8 to dequantise)",
                "labels": list(EMOTIONS),
                "mirror_average": "where an entry's mirror_average is true, the model classifies the face and its "
                "left-right mirror image as one batch and outputs the mean of the two score vectors",
            },
            **conversion,  # the latest conversion; each entry keeps its own under "conversion"
        }
    )
    _save_manifest(out_dir, manifest)
    write_parity_report(out_dir, manifest["models"], manifest)
    return result


def _clear(sc: dict) -> str:
    """Agreement where the float model has a clear winner, with the share of near ties (- for older entries)."""
    if sc.get("agreement_clear") is None:
        return "-"
    return f"{100 * sc['agreement_clear']:.2f} ({100 * sc['near_tie_share']:.1f}% near ties)"


def parity_table(entries: list[dict]) -> str:
    """Markdown table: one row per variant x format x split."""
    head = ("| variant | format | split | size KB | accuracy | macro-F1 | agreement | clear agreement | max dprob | "
            + " | ".join(f"{e[:3]} rec" for e in EMOTIONS) + " |")
    sep = "|" + "---|" * (9 + len(EMOTIONS))
    rows = [head, sep]
    for e in entries:
        for split, sc in e["accuracy"].items():
            k = e["keras"][split]
            rows.append(
                f"| {e['variant']} | {e['format']} | {split} | {e['size_bytes'] / 1024:.1f} | "
                f"{100 * sc['accuracy']:.2f} ({100 * (sc['accuracy'] - k['accuracy']):+.2f}) | "
                f"{100 * sc['macro_f1']:.2f} | {100 * sc['agreement']:.2f} | {_clear(sc)} | "
                f"{sc['max_prob_diff']:.4f} | "
                + " | ".join(f"{100 * sc['per_class_recall'][c]:.1f}" for c in EMOTIONS)
                + " |"
            )
    return "\n".join(rows)


def write_parity_report(out_dir: Path, entries: list[dict], manifest: dict) -> None:
    """``parity.json`` and ``parity.md`` for every model in the manifest (``entries``), whichever run converted it."""
    atomic_write_json(out_dir / "parity.json", {"created": manifest.get("created"),
                                                "command": manifest.get("command"), "models": entries})
    keras_rows = []
    seen = set()
    for e in entries:
        for split, k in e["keras"].items():
            if (e["variant"], split) not in seen:
                seen.add((e["variant"], split))
                keras_rows.append(
                    f"| {e['variant']} | {split} | {100 * k['accuracy']:.2f} | {100 * k['macro_f1']:.2f} |"
                )
    text = [
        "# TFLite parity report",
        "",
        "Made by "
        + "; ".join(f"`{cmd}` ({', '.join(variants)})" for cmd, variants in conversions(entries, manifest).items())
        + f" on `{manifest.get('host')}` ({manifest.get('platform')}), last conversion {manifest.get('created')}.",
        "",
        "Keras float reference (best checkpoint, inference mode):",
        "",
        "| variant | split | accuracy % | macro-F1 % |",
        "|---|---|---|---|",
        *keras_rows,
        "",
        "Each TFLite model, run in the TF-free interpreter used on the device. Accuracy in % with the difference "
        "to the Keras model in pp; agreement = top-1 agreement with Keras; " + near_tie_note("Keras")
        + "; max dprob = largest absolute probability difference; per-class recall in %.",
        "",
        parity_table(entries) if entries and entries[0]["accuracy"] else "(no evaluation data was given)",
        "",
    ]
    atomic_write_text(out_dir / "parity.md", "\n".join(text))
