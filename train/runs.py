"""Run identity without TensorFlow: which folder a run lives in, the runs a recipe needs, and the checks that can be
made before any heavy import (a stale run folder, class weights the training split cannot support).

A run is ``<runs>/<recipe>-<epochs>ep/<variant>-seed<seed>/``. :mod:`train.trainer` trains and evaluates one; this
module only names, checks and plans, so ``python -m train`` reports bad input before TensorFlow starts.
"""

from __future__ import annotations

import csv
import json
import re
import threading
from dataclasses import MISSING, dataclass, fields
from pathlib import Path

import numpy as np

from core.labels import EMOTIONS, NUM_CLASSES
from train.recipes import Recipe

PREDICTIONS = "predictions.npz"  # in a run folder, per evaluated split: <split>_probs (N, 7) float32, <split>_y (N,)

# Recipe fields that do not change what is trained: a run folder may be reused across a rename or a reworded text.
_COSMETIC_FIELDS = frozenset({"name", "description"})
_RECIPE_DEFAULTS = {f.name: f.default for f in fields(Recipe) if f.default is not MISSING}


class RunMismatchError(ValueError):
    """A run folder holds a run of a different recipe than the one asked for; reusing it would mix results."""


class TrainingInterrupted(Exception):  # noqa: N818 (an event, not an error: exit 130 with a hint)
    """Ctrl-C or SIGTERM stopped a run between or during epochs; its finished epochs are kept and it resumes."""

    def __init__(self, out: Path, finished: int, epochs: int) -> None:
        super().__init__(f"{out}: stopped after epoch {finished} of {epochs}; run the same command to resume")
        self.out, self.finished, self.epochs = out, finished, epochs


# Set when SIGTERM or Ctrl-C asked `python -m train` to stop (train.__main__). The signal handler also raises
# KeyboardInterrupt, but Python discards an exception raised while it runs a weakref callback or a finaliser, and on
# Keras' JAX backend those run often enough that one SIGTERM was lost and a GPU job trained on past its time limit;
# trainer.StopWhenAsked raises again from the training loop itself at the next batch.
STOP_ASKED = threading.Event()


class ClassWeightError(ValueError):
    """The training split lacks a class, so the weighted variant's inverse-frequency weights are undefined."""


class RunNameError(ValueError):
    """A run name is not ``<recipe>-<epochs>ep/<variant>-seed<seed>``."""


_RUN_NAME = re.compile(r"^(?P<recipe>.+)-(?P<epochs>\d+)ep/(?P<variant>[a-z]+)-seed(?P<seed>\d+)$")


@dataclass(frozen=True)
class RunRef:
    """One run's identity: recipe name, epochs, variant and seed. Its folder under a runs root is
    ``<recipe>-<epochs>ep/<variant>-seed<seed>`` (:attr:`name`); recipes name the runs they need (teachers, a
    starting run) in that form, parsed once here."""

    recipe: str
    epochs: int
    variant: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.recipe}-{self.epochs}ep/{self.variant}-seed{self.seed}"

    def folder(self, runs_root: Path) -> Path:
        return Path(runs_root) / self.name

    @classmethod
    def parse(cls, name: str) -> RunRef:
        m = _RUN_NAME.match(name)
        if not m:
            raise RunNameError(f"{name!r} is not <recipe>-<epochs>ep/<variant>-seed<seed>")
        return cls(m["recipe"], int(m["epochs"]), m["variant"], int(m["seed"]))

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class RunSpec:
    recipe: Recipe
    variant: str
    seed: int
    runs_root: Path
    threads: int = 0  # 0: TensorFlow's default (all cores)
    command: str = ""  # the command line that started the run, recorded in config.json

    @property
    def ref(self) -> RunRef:
        return RunRef(self.recipe.name, self.recipe.epochs, self.variant, self.seed)

    @property
    def run_dir(self) -> Path:
        return self.ref.folder(self.runs_root)


def run_dir(runs_root: Path, recipe: str, epochs: int, variant: str, seed: int) -> Path:
    return RunRef(recipe, epochs, variant, seed).folder(runs_root)


def init_run_name(recipe: Recipe, variant: str, seed: int) -> str:
    """The run folder (under the runs root) whose best checkpoint a fine-tuning recipe starts from."""
    return recipe.init_from.format(variant=variant, seed=seed)


def soup_run_names(recipe: Recipe, variant: str, seed: int) -> list[str]:
    """The run folders (under the runs root) whose best checkpoints a soup recipe averages."""
    return [name.format(variant=variant, seed=seed) for name in recipe.soup]


def check_run_config(out: Path, recipe: Recipe) -> None:
    """Refuse to resume or reuse ``out`` when its ``config.json`` records a different recipe (a stale run folder).

    Only fields that change training are compared, so renaming a recipe or rewording its description keeps its runs.
    """
    path = Path(out) / "config.json"
    if not path.exists():
        return
    try:
        recorded = json.loads(path.read_text())["recipe"]
    except (ValueError, KeyError, TypeError) as exc:
        raise RunMismatchError(f"{path}: unreadable run config ({exc}); move the folder away to start afresh") from exc
    wanted = recipe.to_dict()
    # a field added to Recipe after a run was recorded counts as that field's default (what the run trained with)
    recorded = {**_RECIPE_DEFAULTS, **recorded}
    diffs = [
        f"{k}: recorded {recorded.get(k)!r}, asked {wanted[k]!r}"
        for k in sorted(wanted)
        if k not in _COSMETIC_FIELDS and _jsonish(recorded.get(k)) != _jsonish(wanted[k])
    ]
    if diffs:
        raise RunMismatchError(
            f"{path}: this run folder was trained with a different recipe ({'; '.join(diffs)}); "
            "move it away or pass another --runs folder"
        )


def _jsonish(value):
    """Tuples and lists compare equal after a JSON round trip."""
    return json.loads(json.dumps(value))


def class_weights(y: np.ndarray) -> dict[int, float]:
    """Inverse-frequency weights ``w_k = N / (K * N_k)``, i.e. scikit-learn's ``'balanced'``.

    Raises :class:`ClassWeightError` naming the missing classes when the split lacks one (the weights are undefined).
    """
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.arange(NUM_CLASSES)
    present = np.unique(y)
    if len(present) != NUM_CLASSES:
        missing = [EMOTIONS[k] for k in classes if k not in present]
        raise ClassWeightError(
            f"the training split has no examples of {', '.join(missing)}: the weighted variant's class weights "
            "N / (K * N_k) are undefined; train --variants unweighted only, or use data with every class"
        )
    w = compute_class_weight("balanced", classes=classes, y=y)
    return {int(k): float(v) for k, v in zip(classes, w)}


def recorded_sessions(run_dir: Path) -> list[dict]:
    """The training sessions a run folder's ``config.json`` records, oldest first: each process that trained it, on
    which host, from which epoch (``epochs_done``) and on which data stream (``stream_seed``). A config written
    before sessions were kept counts as one session of unknown start (``epochs_done`` None); a new run has none."""
    path = Path(run_dir) / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(config, dict):
        return []
    if isinstance(config.get("sessions"), list):
        return list(config["sessions"])
    return [{"created": config.get("created"), "host": config.get("host"), "epochs_done": None}]


def read_log(log_path: Path) -> list[dict[str, float]]:
    """The epochs a run's ``log.csv`` (Keras CSVLogger) recorded, one row per epoch (the last row of an epoch wins)."""
    if not log_path.exists():
        return []
    by_epoch: dict[int, dict[str, float]] = {}
    with open(log_path, newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                by_epoch[int(row["epoch"])] = {k: float(v) for k, v in row.items() if v not in ("", None)}
            except (KeyError, ValueError):
                continue
    return [by_epoch[e] for e in sorted(by_epoch)]


def evaluated(folder: Path, epochs: int) -> bool:
    """Whether ``folder`` (a run folder, or the study's archived copy of its reports) holds a run that trained all
    ``epochs`` and was evaluated: its metrics.json, written last, records them. The one test of a finished run."""
    try:
        return json.loads((Path(folder) / "metrics.json").read_text()).get("completed_epochs") == epochs
    except (OSError, ValueError, AttributeError):
        return False


def run_state(spec: RunSpec) -> str:
    """Where a run stands: "complete" (:func:`evaluated`), "trained" (every epoch logged, not yet evaluated),
    "partial" (resumes from its last finished epoch) or "new"."""
    out = spec.run_dir
    if evaluated(out, spec.recipe.epochs):
        return "complete"
    logged = len(read_log(out / "log.csv"))
    if logged >= spec.recipe.epochs and (out / "best.keras").is_file() and not (out / "backup").exists():
        return "trained"
    return "partial" if logged else "new"
