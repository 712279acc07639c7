"""Train one variant of a recipe into its own run folder, resumably, and evaluate its best checkpoint.

Run folder ``<runs>/<recipe>-<epochs>ep/<variant>-seed<seed>/`` holds ``config.json``, ``model_summary.txt``,
``log.csv`` (Keras CSVLogger), ``best.keras`` (ModelCheckpoint on validation accuracy), ``backup/``
(BackupAndRestore while training), ``metrics.json``, ``predictions.npz`` (the best checkpoint's scores on each
evaluated split) and plots.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np

from core.dataset import Dataset, evaluation_split
from core.devicecrops import crops_for_training
from core.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text, sha256_file
from core.labels import EMOTIONS, NUM_CLASSES
from core.metrics import classification_metrics
from core.paths import shown
from core.provenance import command_line, provenance
from train.backend import configure as configure_backend
from train.batches import Alternates, stream_seed, training_batches, validation_batches
from train.carry import Carried, restore_record
from train.distill import cached_teacher_probs, distillation_targets, teacher_cache_dir
from train.models import load_float32, predict_probs
from train.precision import training_precision
from train.recipes import VARIANTS, Recipe
from train.runs import (
    PREDICTIONS,
    STOP_ASKED,
    ClassWeightError,
    RunMismatchError,
    RunSpec,
    TrainingInterrupted,
    check_run_config,
    class_weights,
    init_run_name,
    read_log,
    recorded_sessions,
    run_dir,
    run_state,
    soup_run_names,
)

__all__ = ["VARIANTS", "ClassWeightError", "RunMismatchError", "RunSpec", "TrainingInterrupted", "check_run_config",
           "class_weights", "evaluate_run", "init_run_name", "run_dir", "train_variant"]

def device_alternates(recipe: Recipe, runs_root: Path, x: np.ndarray) -> tuple[Alternates | None, dict | None]:
    """The device crops a recipe trains on (checked against the training images ``x``: DeviceCropsError naming the
    file and the command that builds it) and what the run's config records of them; (None, None) without."""
    if not recipe.device_crops:
        return None, None
    path, crops = crops_for_training(runs_root, recipe.device_crops, x, recipe.name)
    info = {"file": shown(path), "sha256": sha256_file(path), "found_share": round(crops.found_share, 4),
            "share": recipe.device_crop_share, **{k: crops.record.get(k) for k in ("detector", "framing", "command")}}
    images = crops.crops.reshape(x.shape).astype(x.dtype, copy=False)
    return Alternates(images, crops.found, recipe.device_crop_share), info


def _datasets(ds: Dataset, recipe: Recipe, seed: int, augmenter, targets=None, weights=None, workers: int = 1,
              alternates: Alternates | None = None):
    """Training and validation batches (:mod:`train.batches`); augmentation runs there, outside the model.

    ``targets`` (N x 7 soft targets) replaces the integer labels when distilling; then the class weights, if any, go
    in as per-image sample weights of the image's true label (Keras' ``class_weight`` would use the soft target's
    arg-max instead).
    """
    tr, val = ds.splits["train"], ds.splits["val"]
    if targets is None:
        tensors, val_y = (tr.x, tr.y), val.y
    else:
        tensors, val_y = (tr.x, targets.astype(np.float32)), np.eye(NUM_CLASSES, dtype=np.float32)[val.y]
        if weights is not None:
            sample_w = np.asarray([weights[int(k)] for k in tr.y], dtype=np.float32)
            tensors = (*tensors, sample_w)
    return (training_batches(tensors, recipe.batch_size, seed, augmenter, workers, alternates),
            validation_batches(val.x, val_y))


def _lr_schedule(keras, recipe: Recipe, steps_per_epoch: int):
    if recipe.schedule in ("constant", "plateau"):  # plateau: ReduceLROnPlateau lowers it (_callbacks)
        return recipe.learning_rate
    if recipe.schedule == "cosine":
        total = max(1, recipe.epochs * steps_per_epoch)
        warmup = min(recipe.warmup_epochs * steps_per_epoch, total // 2)
        if warmup == 0:
            return keras.optimizers.schedules.CosineDecay(recipe.learning_rate, decay_steps=total, alpha=0.0)
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=recipe.learning_rate / 10,
            decay_steps=max(1, total - warmup),
            alpha=0.0,
            warmup_target=recipe.learning_rate,
            warmup_steps=warmup,
        )
    raise ValueError(f"unknown schedule {recipe.schedule!r}")


def _optimizer(keras, recipe: Recipe, steps_per_epoch: int):
    """The recipe's optimiser: SGD with Nesterov momentum, AdamW, or Adam when there is no weight decay."""
    rate = _lr_schedule(keras, recipe, steps_per_epoch)
    if recipe.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=rate, momentum=recipe.momentum, nesterov=True,
                                    weight_decay=recipe.weight_decay or None)
    if recipe.weight_decay:
        return keras.optimizers.AdamW(learning_rate=rate, weight_decay=recipe.weight_decay)
    return keras.optimizers.Adam(learning_rate=rate)


def compile_model(keras, model, recipe: Recipe, steps_per_epoch: int, distilling: bool) -> None:
    """Compile ``model`` for training with the recipe's optimiser and loss (soft targets when ``distilling``)."""
    model.compile(
        optimizer=_optimizer(keras, recipe, steps_per_epoch),
        loss="categorical_crossentropy" if distilling else "sparse_categorical_crossentropy",
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")] if distilling else ["accuracy"],
    )


def _save_carried_best(model, carried: Carried, path: Path) -> None:
    """Write a restored run's best checkpoint from its carried state (``model`` holds the latest epoch's weights)."""
    latest = model.get_weights()
    model.set_weights(carried.best())
    partial = partial_checkpoint(path)
    model.save(partial)
    os.replace(partial, path)
    model.set_weights(latest)


def partial_checkpoint(path: Path) -> Path:
    """Where a checkpoint is written before it is renamed into place whole (Keras wants the .keras suffix)."""
    return path.with_name(path.stem + ".partial" + path.suffix)


def _schedule_callbacks(keras, recipe: Recipe) -> list:
    """Callbacks that carry the learning-rate schedule (the plateau rule); the others are set per schedule."""
    if recipe.schedule != "plateau":
        return []
    return [keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", mode="max", factor=recipe.plateau_factor,
                                              patience=recipe.plateau_patience, verbose=1)]


def train_variant(spec: RunSpec, ds: Dataset, verbose: int | None = None) -> dict:
    """Train (or resume) one run and return its metrics; a finished run is evaluated, not retrained."""
    out = spec.run_dir
    check_run_config(out, spec.recipe)
    out.mkdir(parents=True, exist_ok=True)
    carried = None if spec.recipe.soup else restore_record(spec, ds.summary())  # a run kept across a checkout
    if carried is not None:
        print(f"[{spec.variant}] {out}: restored from its carried state ({shown(carried.folder)}) after epoch "
              f"{carried.epoch}; momentum restarts at zero")
    state = run_state(spec)
    if spec.recipe.soup and state in ("complete", "trained"):
        changed = _changed_soup_members(spec)
        if changed:  # a soup is a function of its members and costs seconds: it is averaged again, said so
            print(f"[{spec.variant}] {out}: member(s) {', '.join(changed)} changed since this soup was averaged; "
                  "averaging it again")
            return soup_variant(spec, ds)
    if state == "complete":
        print(f"[{spec.variant}] {out}: already complete, skipping (delete metrics.json to re-evaluate)")
        return json.loads((out / "metrics.json").read_text())
    if state == "trained":  # every epoch logged and Keras removed its backup: stopped before or while evaluating
        history = read_log(out / "log.csv")
        print(f"[{spec.variant}] {out}: all {len(history)} epochs are trained; evaluating the best checkpoint")
        return evaluate_run(out, ds, history)
    if spec.recipe.soup:
        return soup_variant(spec, ds)

    backend = configure_backend(spec.threads)
    from train.models import build_augmenter, build_model

    keras.utils.set_random_seed(spec.seed)
    recipe = spec.recipe
    precision, why = training_precision(recipe, backend.accelerators)
    if recipe.precision != "float32":  # say whether the asked-for mixed precision is used here
        print(f"[{spec.variant}] training precision {precision}: {why}")
    init = _init_info(spec)  # a missing or changed starting checkpoint fails before the teachers predict
    alternates, crops_info = device_alternates(recipe, spec.runs_root, ds.splits["train"].x)
    weights = class_weights(ds.splits["train"].y) if spec.variant == "weighted" else None
    steps = int(np.ceil(len(ds.splits["train"]) / recipe.batch_size))
    targets, teacher_info = None, None
    if recipe.teachers and recipe.distill_weight > 0:
        tr, val = ds.splits["train"], ds.splits["val"]
        cache = teacher_cache_dir(spec.runs_root, recipe.teachers)
        logp, val_logp = cached_teacher_probs(cache, spec.runs_root, recipe.teachers,
                                              tr.x, val.x, views=recipe.teacher_views)
        targets = distillation_targets(logp, tr.y, recipe.distill_weight, recipe.distill_temperature)
        teacher_info = {
            "runs": list(recipe.teachers),
            "views": recipe.teacher_views,
            "train_accuracy": round(float((logp.argmax(1) == tr.y).mean()), 4),
            "val_accuracy": round(float((val_logp.argmax(1) == val.y).mean()), 4),
            "mean_target_on_label": round(float(targets[np.arange(len(tr.y)), tr.y].mean()), 4),
        }
        print(f"[{spec.variant}] teachers {', '.join(recipe.teachers)}: ensemble accuracy train "
              f"{teacher_info['train_accuracy']:.4f}, val {teacher_info['val_accuracy']:.4f}")
    history = read_log(out / "log.csv")
    data_seed = stream_seed(spec.seed, len(history))  # a resumed run does not replay its first epochs' batches
    prov = provenance(spec.command or command_line(module="train"))
    threads = spec.threads or os.cpu_count()
    session = {"created": prov["created"], "host": prov["host"], "threads": threads, "precision": precision,
               "epochs_done": len(history), "stream_seed": data_seed}
    if carried is not None:
        session["restored_from"] = {"carried": shown(carried.folder), "epoch": carried.epoch,
                                    "iterations": carried.iterations}
    config = {
        "recipe": recipe.to_dict(),
        "variant": spec.variant,
        "seed": spec.seed,
        "data": ds.source,
        "data_summary": ds.summary(),
        "data_notes": ds.notes,
        "class_weights": {EMOTIONS[k]: v for k, v in weights.items()} if weights else None,
        "teachers": teacher_info,
        "init_from": init,
        "device_crops": crops_info,
        "precision": precision,  # what this machine trained in (the recipe's, or float32 without bfloat16 units)
        **prov,
        **backend.record(),
        "keras": keras.__version__,
        "threads": threads,
        "sessions": [*recorded_sessions(out), session],  # where and from which epoch each process trained it
    }
    atomic_write_json(out / "config.json", config)

    with backend.scope:
        model = build_model(replace(recipe, precision=precision))
        if init:
            _load_init_weights(model, spec.runs_root / init["run"] / "best.keras")
        compile_model(keras, model, recipe, steps, distilling=targets is not None)
        if carried is not None:
            carried.apply(model)
            if not (out / "best.keras").is_file():
                _save_carried_best(model, carried, out / "best.keras")
    lines: list[str] = []
    model.summary(print_fn=lambda s, **_: lines.append(s))
    atomic_write_text(out / "model_summary.txt", "\n".join(lines) + "\n")

    best_so_far = max((r.get("val_accuracy", 0.0) for r in history), default=None)
    partial = partial_checkpoint(out / "best.keras")
    if partial.exists():  # a save cut short by a stop or a crash: never promoted
        partial.unlink()
        print(f"dropped {partial.name}: a best-checkpoint save cut short; best.keras is the last whole one")
    callbacks = [
        StopWhenAsked(),
        EpochTimer(),
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        keras.callbacks.ModelCheckpoint(  # the best epoch, written aside and renamed into place whole
            str(partial),
            monitor="val_accuracy",
            mode="max",
            save_best_only=True,
            initial_value_threshold=best_so_far,
        ),
        PromoteCheckpoint(partial, out / "best.keras"),
        *_schedule_callbacks(keras, recipe),
        keras.callbacks.CSVLogger(str(out / "log.csv"), append=True),
    ]
    train_ds, val_ds = _datasets(ds, recipe, data_seed, build_augmenter(recipe, data_seed), targets, weights,
                                 workers=4 if backend.accelerators else 1, alternates=alternates)
    # Keras warns that fit()'s default shuffle=True is ignored for a tf.data input, which is shuffled above.
    warnings.filterwarnings("ignore", message=r".*`shuffle=True` was passed.*")
    if history:
        print(f"[{spec.variant}] resuming {out}: {len(history)} epoch(s) logged; shuffling and augmentation continue "
              f"on stream seed {data_seed}, not a replay of the first epochs")
    try:
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=recipe.epochs,
            class_weight=weights if targets is None else None,  # distilling: sample weights in train_ds
            initial_epoch=carried.epoch if carried is not None else 0,  # a local backup sets its own
            callbacks=callbacks,
            verbose=(1 if sys.stdout.isatty() else 2) if verbose is None else verbose,
        )
    except KeyboardInterrupt:
        raise TrainingInterrupted(out, len(read_log(out / "log.csv")), recipe.epochs) from None
    return evaluate_run(out, ds, read_log(out / "log.csv"))


def soup_variant(spec: RunSpec, ds: Dataset) -> dict:
    """A soup recipe's run: the mean of its member runs' best checkpoints, weight for weight (BatchNorm statistics
    too), saved as this run's best checkpoint and evaluated like a trained run. A missing member or one of another
    architecture is an error naming its checkpoint, before anything is written."""
    from train.models import build_model

    out, recipe = spec.run_dir, spec.recipe
    info = [_needed_run(spec, name, "averages") for name in soup_run_names(recipe, spec.variant, spec.seed)]
    backend = configure_backend(spec.threads)
    model = build_model(replace(recipe, precision="float32"))
    shapes = [w.shape for w in model.get_weights()]
    weights = []
    for member in info:
        checkpoint = spec.runs_root / member["run"] / "best.keras"
        source = load_float32(checkpoint).get_weights()
        if [w.shape for w in source] != shapes:
            raise RunMismatchError(f"{checkpoint}: its model does not match recipe {recipe.name!r}'s architecture, so "
                                   "it cannot be averaged into it")
        weights.append(source)
    model.set_weights([np.mean(np.stack(group), axis=0) for group in zip(*weights, strict=True)])
    prov = provenance(spec.command or command_line(module="train"))
    atomic_write_json(out / "config.json", {
        "recipe": recipe.to_dict(), "variant": spec.variant, "seed": spec.seed, "data": ds.source,
        "data_summary": ds.summary(), "data_notes": ds.notes, "soup": {"runs": [m["run"] for m in info],
                                                                        "members": info},
        "precision": "float32", **prov, **backend.record(), "keras": keras.__version__,
        "threads": spec.threads or os.cpu_count(),
    })
    partial = partial_checkpoint(out / "best.keras")  # renamed into place whole
    model.save(partial)
    os.replace(partial, out / "best.keras")
    print(f"[{spec.variant}] averaged {len(info)} runs into {out / 'best.keras'}: "
          f"{', '.join(m['run'] for m in info)}")
    return evaluate_run(out, ds, [])


def _changed_soup_members(spec: RunSpec) -> list[str]:
    """The members of a finished soup whose best checkpoint is no longer the one it averaged (retrained, or gone:
    averaging again then names the missing checkpoint)."""
    config = spec.run_dir / "config.json"
    recorded = json.loads(config.read_text()).get("soup", {}).get("members", []) if config.is_file() else []
    digests = {m["run"]: m["checkpoint_sha256"] for m in recorded}
    changed = []
    for name in soup_run_names(spec.recipe, spec.variant, spec.seed):
        checkpoint = spec.runs_root / name / "best.keras"
        if not checkpoint.is_file() or digests.get(name) != sha256_file(checkpoint):
            changed.append(name)
    return changed


def _init_info(spec: RunSpec) -> dict | None:
    """What a fine-tuning run starts from: the run, its checkpoint's sha256 and the run's own metrics and budget."""
    if not spec.recipe.init_from:
        return None
    name = init_run_name(spec.recipe, spec.variant, spec.seed)
    info = _needed_run(spec, name, "starts from")
    checkpoint = spec.runs_root / name / "best.keras"
    recorded_path = spec.run_dir / "config.json"
    if recorded_path.exists() and (spec.run_dir / "log.csv").exists():
        recorded = (json.loads(recorded_path.read_text()).get("init_from") or {}).get("checkpoint_sha256")
        if recorded and recorded != info["checkpoint_sha256"]:
            raise RunMismatchError(
                f"{spec.run_dir}: this run started from another {checkpoint} (sha256 {recorded[:12]}..., now "
                f"{info['checkpoint_sha256'][:12]}...): its starting run was retrained; move the folder away to "
                "start afresh"
            )
    return info


def _needed_run(spec: RunSpec, name: str, needs: str) -> dict:
    """The record of a run ``spec`` needs (its starting run, a soup's member): the run, its best checkpoint's sha256,
    and the run's own budget and validation accuracy where it was evaluated. A missing checkpoint is an error
    naming it (``needs``: what the recipe does with it)."""
    checkpoint = spec.runs_root / name / "best.keras"
    if not checkpoint.is_file():
        raise RunMismatchError(f"recipe {spec.recipe.name!r} {needs} {checkpoint}, which does not exist: train run "
                               f"{name} first (make train trains it when it is missing)")
    info: dict = {"run": name, "checkpoint_sha256": sha256_file(checkpoint)}
    metrics = spec.runs_root / name / "metrics.json"
    if metrics.is_file():
        done = json.loads(metrics.read_text())
        info["train_wall_s"] = done.get("train_wall_s")
        info["val_accuracy"] = done.get("splits", {}).get("val", {}).get("accuracy")
    return info


def _load_init_weights(model, checkpoint: Path) -> None:
    """Copy the weights of ``checkpoint`` into ``model`` (this recipe's architecture); a mismatch is an error."""
    source = keras.models.load_model(checkpoint)
    try:
        model.set_weights(source.get_weights())
    except ValueError as exc:
        raise RunMismatchError(f"{checkpoint}: its model does not match this recipe's architecture ({exc})") from exc


class StopWhenAsked(keras.callbacks.Callback):
    """Raises KeyboardInterrupt at the next batch once a stop was asked (:data:`train.runs.STOP_ASKED`), where
    nothing can discard it: the finished epochs are kept and the run resumes."""

    def _check(self, *_args, **_kwargs):
        if STOP_ASKED.is_set():
            raise KeyboardInterrupt

    on_train_batch_end = on_test_batch_end = on_epoch_end = _check


class PromoteCheckpoint(keras.callbacks.Callback):
    """After ``ModelCheckpoint`` wrote ``partial`` (this epoch was the best so far), rename it onto ``final``: a stop
    or a crash during the save leaves the previous best checkpoint whole."""

    def __init__(self, partial: Path, final: Path) -> None:
        super().__init__()
        self.partial, self.final = partial, final

    def on_epoch_end(self, epoch, logs=None):
        if self.partial.is_file():
            os.replace(self.partial, self.final)


class EpochTimer(keras.callbacks.Callback):
    """Adds ``epoch_time_s`` to the epoch logs (so CSVLogger records it and a resumed run keeps it)."""

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_time_s"] = time.perf_counter() - self._t0


def evaluate_run(out: Path, ds: Dataset, history: list[dict]) -> dict:
    """Reload the best checkpoint and score it in inference mode on validation and test (where present)."""

    best = out / "best.keras"
    if not best.exists():
        raise FileNotFoundError(f"{best}: no best checkpoint was written (did training run at least one epoch?)")
    model = load_float32(best)  # scored as the device runs it: float32 maths, whatever the training precision
    best_epoch = max(history, key=lambda r: r.get("val_accuracy", -1.0)) if history else {}
    result = {
        "run_dir": shown(out),  # relative to the project: records name no machine's folders
        "completed_epochs": len(history),
        "best_epoch": int(best_epoch.get("epoch", -1)) + 1,
        "train_wall_s": round(sum(r.get("epoch_time_s", 0.0) for r in history), 1),
        "sessions": len(recorded_sessions(out)),  # processes that trained it (config.json lists them)
        "params": int(model.count_params()),
        "splits": {},
    }
    predictions: dict[str, np.ndarray] = {}
    for split in ("val", "test"):
        if ds.has(split):
            sp = ds.splits[split]
            probs = predict_probs(model, sp.x)
            result["splits"][split] = classification_metrics(sp.y, probs)
            predictions[f"{split}_probs"], predictions[f"{split}_y"] = probs.astype(np.float32), sp.y
    buf = io.BytesIO()  # the scores themselves, for what metrics cannot be recomputed from (the study's prior
    np.savez_compressed(buf, **predictions)  # correction at each budget)
    atomic_write_bytes(out / PREDICTIONS, buf.getvalue())
    atomic_write_json(out / "metrics.json", result)
    from train.plots import plot_confusion, plot_history

    plot_history(history, out / "history.png")
    split = evaluation_split(result["splits"])
    plot_confusion(
        np.asarray(result["splits"][split]["confusion_matrix"]),
        out / f"confusion_{split}.png",
        title=f"{out.parent.name} {out.name} ({split})",
    )
    return result
