"""Carried state of an unfinished run: what lets a long run (a teacher on these CPUs) outlive a checkout.

A run folder (``runs/...``) lives only on the machine that trains it, and a rebuilt checkout has lost a teacher run
three times, each time hours into it. Keras' ``BackupAndRestore`` keeps a run's last finished epoch in its
``backup/`` folder, but in float32 with the optimiser's slots: 38 MB for a 4.7M-parameter teacher, too much to commit
each session. ``python -m train.carry RUN`` keeps what resuming needs, in a size the repository can hold, under
``reports/carry/<recipe>-<E>ep/<variant>-seed<S>/`` (:data:`CARRY`):

- ``weights.npz``: the model's variables at the last finished epoch (``backup/``), in float16 (an array float16
  cannot hold, larger than :data:`FLOAT16_LIMIT`, stays float32), named by their Keras paths;
- ``best.npz``: the best checkpoint's variables alike, only when the best epoch is not the last;
- ``log.csv`` and ``config.json``: the run's record so far;
- ``slots.npz``: an Adam-family run's optimiser slots (its moments), float32, named by their Keras paths;
- ``carry.json``, written last: the epochs done, the optimiser's step count (so the learning-rate schedule goes on
  where it was) and how each array was stored.

An SGD run's slots are not kept: its momentum restarts at zero and rebuilds within about ten steps (momentum 0.9).
Adam-family moments cannot restart at zero without steps several times too large for hundreds of steps (the second
moment averages over about a thousand), so an Adam-family run (a student, a study run: AdamW) keeps them, in float32
(``slots.npz``; float16 would flush the small second moments to zero), which only a small model can afford: its
slots must fit :data:`MAX_SLOTS_MIB`. Weights rounded to float16 move by at most 0.05% of their size, below the
bfloat16 rounding the mixed-precision maths applies to them at every step.

``python -m train`` restores a carried run by itself when the run's folder has no log yet (:func:`restore_record`,
then :func:`Carried.apply` once the model is compiled): training goes on from the epoch after the carried one.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.argtypes import number_type, whole
from core.fileio import atomic_write_bytes, atomic_write_json
from core.paths import project_root, shown
from core.provenance import provenance
from train.recipes import RECIPES, Recipe
from train.runs import RunNameError, RunRef, RunSpec, check_run_config, evaluated, read_log

CARRY = Path("reports") / "carry"
FLOAT16_LIMIT = 60000.0  # float16's largest finite value is 65504; an array beyond this stays float32
RECORD_FILES = ("log.csv", "config.json")  # copied as they are; carry.json is written last
# An Adam-family run's slots (two moments per weight, float32) are kept up to this size: a model of about a million
# parameters (the device's students, the study's runs); a teacher of millions would commit tens of MiB a session.
MAX_SLOTS_MIB = 10.0


class CarryError(ValueError):
    """A run that cannot be carried or restored; the message names the run or file and what was expected."""


class CarryBusyError(CarryError):
    """The run was writing an epoch while it was read (its log and backup disagree, or the backup changed): read it
    again in a moment (:func:`carry_when_still`)."""


def carry_root(root: Path | None = None) -> Path:
    """Where carried runs live: :data:`CARRY` under ``root`` (the project by default)."""
    return Path(root or project_root()) / CARRY


def _stored(array: np.ndarray) -> np.ndarray:
    """``array`` as it is kept: float16 when it is finite and within float16's range, else unchanged."""
    if array.dtype.kind == "f" and np.isfinite(array).all() and float(np.abs(array).max(initial=0.0)) < FLOAT16_LIMIT:
        return array.astype(np.float16)
    return array


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


@dataclass(frozen=True)
class Carried:
    """A carried run's state, as :func:`load_carried` reads it from ``folder``."""

    folder: Path
    epoch: int  # finished epochs: training goes on with the next
    iterations: int  # optimiser steps taken
    paths: tuple[str, ...]  # the model's variable paths, in model.weights order
    has_best: bool  # best.npz is kept (the best epoch is not the last)
    slot_paths: tuple[str, ...] = ()  # the optimiser slots kept in slots.npz (an Adam-family run), in order

    def _arrays(self, name: str) -> list[np.ndarray]:
        with np.load(self.folder / name) as data:
            arrays = [np.asarray(data[f"v{i:04d}"], dtype=np.float32) for i in range(len(self.paths))]
        return arrays

    def latest(self) -> list[np.ndarray]:
        """The last finished epoch's variables, float32, in model.weights order."""
        return self._arrays("weights.npz")

    def best(self) -> list[np.ndarray]:
        """The best checkpoint's variables (the latest when the best epoch was the last)."""
        return self._arrays("best.npz" if self.has_best else "weights.npz")

    def slots(self) -> list[np.ndarray]:
        """The kept optimiser slots, float32, in :attr:`slot_paths` order (none for an SGD run)."""
        if not self.slot_paths:
            return []
        with np.load(self.folder / "slots.npz") as data:
            return [np.asarray(data[f"s{i:04d}"], dtype=np.float32) for i in range(len(self.slot_paths))]

    def apply(self, model) -> None:
        """Put the carried epoch into ``model`` (compiled like the run's): its variables, the optimiser's step count
        and, for an Adam-family run, its slots (an SGD run's start at zero). CarryError when the model's variables or
        the optimiser's slots are not the carried ones."""
        _check_paths(self, model)
        model.set_weights(self.latest())
        model.optimizer.build(model.trainable_variables)
        model.optimizer.iterations.assign(self.iterations)
        if self.slot_paths:
            slots = {_slot_name(v): v for v in _slot_variables(model.optimizer)}
            if tuple(slots) != self.slot_paths:
                raise CarryError(f"{self.folder}: carried for an optimiser with other slots ({len(self.slot_paths)} "
                                 f"carried, {len(slots)} in this recipe's); delete the folder to train afresh")
            for variable, value in zip(slots.values(), self.slots(), strict=True):
                variable.assign(value)


def _slot_variables(optimizer) -> list:
    """The optimiser's per-weight slots (its moments): its variables but the scalars (the step count, a constant
    learning rate; the recipes' models have no scalar weight, so no scalar slot)."""
    return [v for v in optimizer.variables if len(v.shape) > 0]


def _slot_name(variable) -> str:
    """A slot's name without its optimiser's (Keras numbers optimisers per process: adam_w, adam_w_1, ...)."""
    return variable.path.split("/", 1)[-1]


def _check_paths(carried: Carried, model) -> None:
    paths = tuple(v.path for v in model.weights)
    if paths != carried.paths:
        raise CarryError(f"{carried.folder}: carried for a model with other variables ({len(carried.paths)} "
                         f"carried, {len(paths)} in this recipe's model); delete the folder to train afresh")


def load_carried(folder: Path) -> Carried | None:
    """The carried run in ``folder``, or None when there is none (no carry.json: nothing, or a save cut short)."""
    path = Path(folder) / "carry.json"
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text())
        return Carried(Path(folder), int(info["epoch"]), int(info["iterations"]),
                       tuple(a["path"] for a in info["arrays"]), bool(info["best"]),
                       tuple(a["path"] for a in info.get("slots", [])))
    except (ValueError, KeyError, TypeError) as exc:
        raise CarryError(f"{path}: unreadable carried state ({exc}); expected what python -m train.carry "
                         "writes") from None


def carried_for(spec: RunSpec, root: Path | None = None) -> Carried | None:
    """The carried state of ``spec``'s run, if one is kept."""
    return load_carried(spec.ref.folder(carry_root(root)))


def restore_record(spec: RunSpec, data_summary: dict, root: Path | None = None) -> Carried | None:
    """Seed ``spec``'s run folder from its carried state when the folder has no log yet (a new checkout): copy its
    ``log.csv`` and ``config.json`` and return the state for :meth:`Carried.apply`. None when there is nothing to
    restore (no carried state, or the folder already has epochs of its own: the local backup is newer). CarryError
    when the carried run was trained on other data."""
    out = spec.run_dir
    if read_log(out / "log.csv") or (out / "backup").exists():
        return None
    carried = carried_for(spec, root)
    if carried is None:
        return None
    config = json.loads((carried.folder / "config.json").read_text())
    if config.get("data_summary") != data_summary:
        raise CarryError(f"{carried.folder}: carried from a run on other data (its split and class counts differ "
                         "from this data's); train with the data it was carried from, or delete the folder")
    out.mkdir(parents=True, exist_ok=True)
    for name in RECORD_FILES:
        atomic_write_bytes(out / name, (carried.folder / name).read_bytes())
    return carried


def _compiled(recipe: Recipe):
    """``recipe``'s model in float32, compiled with its optimiser (what BackupAndRestore's weights file holds)."""
    import keras

    from train.models import build_model
    from train.trainer import compile_model

    model = build_model(replace(recipe, precision="float32"))
    compile_model(keras, model, recipe, steps_per_epoch=1, distilling=bool(recipe.teachers and recipe.distill_weight))
    model.optimizer.build(model.trainable_variables)
    return model


def carry_run(runs_root: Path, name: str, root: Path | None = None) -> Path:
    """Keep the unfinished run ``name`` (``<recipe>-<E>ep/<variant>-seed<S>``) under :func:`carry_root`; returns the
    folder. CarryError, before anything is written, for a misnamed or finished run, one without a backup, or an
    Adam-family run whose optimiser slots would not fit :data:`MAX_SLOTS_MIB`."""
    try:
        ref = RunRef.parse(name)
    except RunNameError as exc:
        raise CarryError(str(exc)) from None
    if ref.recipe not in RECIPES:
        raise CarryError(f"{name}: no recipe named {ref.recipe!r}")
    recipe = RECIPES[ref.recipe].with_epochs(ref.epochs)
    run = ref.folder(runs_root)
    keep_slots = recipe.optimizer != "sgd"
    # Adam's two moments a weight in float32 (an upper bound: BatchNorm's statistics have none)
    slots_mib = 2 * recipe.cost()[0] * 4 / 2**20
    if keep_slots and slots_mib > MAX_SLOTS_MIB:
        raise CarryError(f"{run}: recipe {recipe.name!r} trains with {recipe.optimizer}, whose moments would take "
                         f"about {slots_mib:.0f} MiB in float32 (at most {MAX_SLOTS_MIB:g} are carried; SGD runs keep "
                         "none): let it finish within a session")
    backup, meta = run / "backup" / "latest.weights.h5", run / "backup" / "training_metadata.json"
    if evaluated(run, ref.epochs):
        raise CarryError(f"{run}: finished, nothing to carry; keep it with python -m train.archive {name} "
                         "--checkpoint, or convert it (python -m convert), and drop its carried state (--drop)")
    if not (backup.is_file() and meta.is_file()):
        raise CarryError(f"{backup}: missing; only a run that is training or was stopped between epochs (Keras "
                         "BackupAndRestore keeps its last finished epoch there) can be carried")
    check_run_config(run, recipe)
    before = (backup.stat().st_mtime_ns, meta.read_text())
    epoch = int(json.loads(before[1])["epoch"])
    logged = len(read_log(run / "log.csv"))
    if logged != epoch:
        raise CarryBusyError(f"{run}: log.csv has {logged} epochs but the backup {epoch}; an epoch is being written")

    from train.models import load_float32

    model = _compiled(recipe)
    model.load_weights(backup)
    if (backup.stat().st_mtime_ns, meta.read_text()) != before:  # the run finished an epoch while it was read
        raise CarryBusyError(f"{backup}: rewritten while it was read (the run finished an epoch)")
    latest = [_stored(np.asarray(v.numpy())) for v in model.weights]
    slot_vars = _slot_variables(model.optimizer) if keep_slots else []
    slots = [np.asarray(v.numpy(), dtype=np.float32) for v in slot_vars]
    best_path = run / "best.keras"
    best = [_stored(np.asarray(w)) for w in load_float32(best_path).get_weights()] if best_path.is_file() else latest
    has_best = any(not np.array_equal(a, b) for a, b in zip(latest, best))

    dest = ref.folder(carry_root(root))
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "carry.json").unlink(missing_ok=True)  # an incomplete save is never taken for a whole one
    atomic_write_bytes(dest / "weights.npz", _npz_bytes({f"v{i:04d}": a for i, a in enumerate(latest)}))
    if has_best:
        atomic_write_bytes(dest / "best.npz", _npz_bytes({f"v{i:04d}": a for i, a in enumerate(best)}))
    else:
        (dest / "best.npz").unlink(missing_ok=True)
    if slots:
        atomic_write_bytes(dest / "slots.npz", _npz_bytes({f"s{i:04d}": a for i, a in enumerate(slots)}))
    else:
        (dest / "slots.npz").unlink(missing_ok=True)
    for file in RECORD_FILES:
        atomic_write_bytes(dest / file, (run / file).read_bytes())
    atomic_write_json(dest / "carry.json", {
        "run": ref.name,
        "epoch": epoch,
        "iterations": int(model.optimizer.iterations.numpy()),
        "best": has_best,
        "dropped": None if keep_slots else "the optimiser's slots (momentum restarts at zero)",
        "arrays": [{"path": v.path, "shape": list(a.shape), "stored": str(a.dtype)}
                   for v, a in zip(model.weights, latest)],
        "slots": [{"path": _slot_name(v), "shape": list(a.shape), "stored": str(a.dtype)}
                  for v, a in zip(slot_vars, slots)],
        **provenance(f"python -m train.carry {name}"),
    })
    return dest


def carry_when_still(runs_root: Path, name: str, attempts: int = 6, wait_s: float = 10.0, root: Path | None = None,
                     sleep: Callable[[float], None] = time.sleep) -> Path:
    """:func:`carry_run` of a run that may be training: caught writing an epoch (:class:`CarryBusyError`), it is read
    again after ``wait_s`` seconds, up to ``attempts`` reads in all; any other CarryError at once."""
    if attempts < 1 or not wait_s >= 0:
        raise CarryError(f"{attempts} reads {wait_s} s apart: expected at least 1 read and a wait of 0 s or more")
    for _ in range(attempts - 1):
        try:
            return carry_run(runs_root, name, root)
        except CarryBusyError as exc:
            print(f"{name}: {exc}; reading it again in {wait_s:g} s", file=sys.stderr)
            sleep(wait_s)
    try:
        return carry_run(runs_root, name, root)
    except CarryBusyError as exc:
        raise CarryBusyError(f"{exc}; so at each of {attempts} reads {wait_s:g} s apart: run it again (or stop "
                             "the run between epochs first)") from None


def drop_carried(name: str, root: Path | None = None) -> bool:
    """Remove the carried state of run ``name`` (once it has finished and is kept); whether there was one."""
    folder = RunRef.parse(name).folder(carry_root(root))
    if not folder.is_dir():
        return False
    (folder / "carry.json").unlink(missing_ok=True)  # first, so a removal cut short leaves no usable half
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    return True


def drop_finished(name: str, run: Path, root: Path | None = None) -> Path | None:
    """Remove the carried state of run ``name`` once its folder ``run`` has finished, when that state is this run's
    own: its log is the start of the run's log (the run was carried from this folder, or restored from the state
    and trained on). Returns the removed folder; None when nothing was carried, the run has not finished, or the state
    is another run's of the same name (say, one trained on other data under another runs root), which is kept."""
    ref = RunRef.parse(name)
    folder = ref.folder(carry_root(root))
    if not (folder / "carry.json").is_file() or not evaluated(run, ref.epochs):
        return None
    try:
        carried_log = (folder / "log.csv").read_text().splitlines()
        run_log = (Path(run) / "log.csv").read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    if len(carried_log) < 2 or run_log[:len(carried_log)] != carried_log:
        return None
    drop_carried(name, root)
    return folder


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m train.carry",
        description="Keep unfinished runs (a teacher or a study run trained across sessions) in a committable form "
        f"under {CARRY}/, so that `python -m train` resumes them in a new checkout; --drop removes a finished run's.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("runs", nargs="+", help="runs as <recipe>-<epochs>ep/<variant>-seed<seed>")
    p.add_argument("--runs-root", type=Path, default=project_root() / "runs", help="root folder of the run folders")
    p.add_argument("--drop", action="store_true", help="remove these runs' carried state instead of keeping it")
    p.add_argument("--attempts", type=whole(1), default=6,
                   help="reads of a training run caught writing an epoch before giving up")
    p.add_argument("--wait", type=number_type(float, 0.0, "a number of seconds, at least 0"), default=10.0,
                   metavar="SECONDS", help="seconds between those reads")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        for name in args.runs:
            if args.drop:
                print(f"{name}: {'carried state removed' if drop_carried(name) else 'nothing carried'}")
                continue
            dest = carry_when_still(args.runs_root, name, args.attempts, args.wait)
            carried = load_carried(dest)
            size = sum(p.stat().st_size for p in dest.iterdir()) / 2**20
            print(f"carried {name} after epoch {carried.epoch} -> {shown(dest)} ({size:.1f} MiB); commit it, and "
                  "python -m train with the same recipe resumes it in a new checkout")
    except (CarryError, RunNameError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
