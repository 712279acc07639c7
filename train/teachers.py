"""The teachers a student distils from and an ensemble scores: training runs, or converted float models.

A teacher is named one of two ways (in a recipe's ``teachers`` or on ``python -m train.ensemble --members``):

- a training run, ``<recipe>-<E>ep/<variant>-seed<S>``: its ``best.keras`` under the runs root, in Keras;
- a converted float model, ``<path>.tflite#sha256=<first 12 hex digits>``: the file (relative to the project root,
  e.g. the shipped ``models/unweighted_float32.tflite``) run in the device's TFLite interpreter, with the mirror
  averaging its graph may hold. The digest pins the file: the committed models change when a new model ships, and
  a recipe must keep naming the model it was written for. A replaced model that taught a recipe is kept beside,
  as ``<folder>/teachers/<stem>-<digest>.tflite`` (:func:`kept_path`), where the name finds it.

Either may end in ``@<views>`` (``@one``, ``@mirror`` or ``@tencrop``, :data:`VIEWS`) to pin the test-time views that
teacher is always averaged over, whatever the student's recipe or the ensemble's column asks of the others: a model
whose graph already averages the mirror image gains nothing from ``tencrop`` (the shipped float32 model scores lower
with it), while a large teacher run gains most from it.

Only runs are trained first when missing; a model file that is missing or has another digest is an error naming
it before any image is predicted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.fileio import atomic_write_bytes, sha256_file
from core.paths import project_root
from train.runs import RunNameError, RunRef

_MODEL_NAME = re.compile(r"^(?P<path>[^#]+\.tflite)#sha256=(?P<digest>[0-9a-f]{12})$")
DIGEST_CHARS = 12
# the test-time views a teacher's predictions may average over (train.ensemble.views): the face; the face and its
# mirror image; the face and four 44x44 corner crops scaled back, each with its mirror image
VIEWS: tuple[str, ...] = ("one", "mirror", "tencrop")


class TeacherFileError(ValueError):
    """A teacher model file that is missing, or not the file its digest names."""


@dataclass(frozen=True)
class Teacher:
    name: str  # as written
    path: Path  # best.keras of the run, or the .tflite file
    run: RunRef | None  # the training run (None: a model file)
    digest: str = ""  # model files: the first DIGEST_CHARS hex digits of the file's sha256
    views: str = ""  # pinned test-time views (a name ending in @<views>); "": the caller's

    def views_or(self, default: str) -> str:
        """The views this teacher is averaged over when the caller asks for ``default``."""
        return self.views or default

    @property
    def is_run(self) -> bool:
        return self.run is not None

    def located(self) -> Path:
        """The file to load: a run's checkpoint, or the model file its digest names (at its path, or kept in
        ``teachers/`` beside it once a newer model replaced it). FileNotFoundError / TeacherFileError naming it."""
        if self.is_run:
            if not self.path.is_file():
                r = self.run
                raise FileNotFoundError(f"{self.path}: teacher run {self.name!r} is missing; train it first: python -m "
                                        f"train --recipe {r.recipe} --epochs {r.epochs} --variants {r.variant} "
                                        f"--seed {r.seed}")
            return self.path
        kept = kept_path(self.path, self.digest)
        for candidate in (self.path, kept):
            if candidate.is_file() and _short_digest(candidate) == self.digest:
                return candidate
        if not self.path.is_file():
            raise TeacherFileError(f"{self.path}: teacher model {self.name!r} is missing (nor kept as {kept})")
        actual = _short_digest(self.path)
        raise TeacherFileError(
            f"{self.path}: teacher model {self.name!r} has sha256 {actual}..., not {self.digest}..., and {kept} does "
            "not exist: the file changed since the teacher was named (find the named one with git log -- "
            f"{self.path.name} and keep it as {kept}, or name this file with #sha256={actual})")

    def check(self) -> None:
        """The teacher's file exists and, for a model file, is the one its digest names."""
        self.located()

    def predictor(self, threads: int = 0) -> Callable[[np.ndarray], np.ndarray]:
        """A function from (N, 48, 48, 1) float pixels 0..255 to (N, 7) probabilities (inference mode); a model file
        runs in the interpreter with ``threads`` threads (0: every core, as Keras uses them for a run)."""
        if self.is_run:
            from train.models import load_float32, predict_probs

            model = load_float32(self.located())
            return lambda x: predict_probs(model, x)
        from device.classifier import ClassifierOptions, EmotionClassifier

        classifier = EmotionClassifier(ClassifierOptions(self.located(), threads or os.cpu_count() or 1))
        return classifier.predict_proba


def _short_digest(path: Path) -> str:
    """The first DIGEST_CHARS hex digits of the file's sha256, hashed once per file version (path, size, mtime): the
    plan, distillation's cache key and the predictor each check a teacher, and a model file is megabytes."""
    st = path.stat()
    return _digest_of(str(path.resolve()), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=64)
def _digest_of(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(Path(path))[:DIGEST_CHARS]


def kept_path(path: Path, digest: str) -> Path:
    """Where a replaced teacher model is kept: ``<folder>/teachers/<stem>-<digest><suffix>``."""
    return path.parent / "teachers" / f"{path.stem}-{digest}{path.suffix}"


def _split_views(name: str) -> tuple[str, str]:
    """``name`` without its ``@<views>`` pin, and the pin ("" when none). RunNameError for an unknown one."""
    base, at, pinned = name.rpartition("@")
    if not at:
        return name, ""
    if pinned not in VIEWS:
        raise RunNameError(f"{name!r}: a teacher's views are pinned as @<views>, one of {', '.join(VIEWS)}; "
                           f"not {pinned!r}")
    return base, pinned


def without_views(name: str) -> str:
    """A teacher name without its ``@<views>`` pin: the run folder or model file it names."""
    return _split_views(name)[0]


def _model_file_teacher(name: str, root: Path | None) -> Teacher | None:
    """The teacher ``name`` names when it is ``<path>.tflite#sha256=<12 hex>[@<views>]``; None for any other name."""
    base, pinned = _split_views(name)
    m = _MODEL_NAME.match(base)
    if not m:
        return None
    path = Path(m["path"])
    return Teacher(name, path if path.is_absolute() else (root or project_root()) / path, None, m["digest"], pinned)


def names_model_file(name: str) -> bool:
    """Whether a teacher name is a converted model file rather than a training run."""
    try:
        return _MODEL_NAME.match(_split_views(name)[0]) is not None
    except RunNameError:
        return False


def parse_teacher(name: str, runs_root: Path, root: Path | None = None) -> Teacher:
    """A teacher named by a run (``<recipe>-<E>ep/<variant>-seed<S>``) or a model file (``<path>.tflite#sha256=<12
    hex>``, relative to ``root``, the project root by default), either with an optional ``@<views>`` pin.
    RunNameError for anything else."""
    model = _model_file_teacher(name, root)
    if model is not None:
        return model
    base, pinned = _split_views(name)
    if base.endswith(".tflite") or ".tflite#" in base:
        raise RunNameError(f"{name!r}: a teacher model file is named <path>.tflite#sha256=<first {DIGEST_CHARS} hex "
                           "digits of its sha256>, so that a recipe keeps naming the model it was written for")
    try:
        ref = RunRef.parse(base)
    except RunNameError as exc:
        raise RunNameError(f"{exc}, nor <path>.tflite#sha256=<{DIGEST_CHARS} hex digits>") from None
    return Teacher(name, ref.folder(runs_root) / "best.keras", ref, views=pinned)


def model_teacher_name(path: Path, root: Path | None = None) -> str:
    """How to name the model file ``path`` as a teacher (relative to the project root when inside it)."""
    path = Path(path).resolve()
    base = (root or project_root()).resolve()
    shown = path.relative_to(base) if path.is_relative_to(base) else path
    return f"{shown}#sha256={sha256_file(path)[:DIGEST_CHARS]}"


def keep_teacher_file(path: Path, teacher_names: Iterable[str], root: Path | None = None) -> Path | None:
    """Before ``path`` is overwritten (a new model ships): if one of ``teacher_names`` names the file as it is now,
    copy it to its :func:`kept_path` so that the name still finds it. Returns the kept copy, or None (no teacher
    names this file, or it is kept already)."""
    path = Path(path)
    if not path.is_file():
        return None
    digest = sha256_file(path)[:DIGEST_CHARS]
    for name in teacher_names:
        teacher = _model_file_teacher(name, root)
        if teacher is None or teacher.digest != digest or teacher.path.resolve() != path.resolve():
            continue
        kept = kept_path(path, digest)
        if kept.is_file() and sha256_file(kept)[:DIGEST_CHARS] == digest:
            return None
        kept.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(kept, path.read_bytes())
        return kept
    return None
