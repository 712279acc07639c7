"""Knowledge distillation: the teachers' ensemble predictions (cached, :func:`teacher_cache_dir`) and the soft
training targets that mix them with the labels."""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.fileio import atomic_write_bytes, sha256_file
from core.labels import NUM_CLASSES
from core.paths import project_root
from train.teachers import parse_teacher

# Where students keep their teachers' predictions, under the runs root: one file per teacher, views and images (and
# the whole-ensemble files of earlier sessions, still read), so both variants of a student, its tail and later
# students with some of the same teachers share them (the ten-crop views of a large teacher take tens of minutes).
TEACHER_CACHE = ".teacher-cache"
# Where they are kept instead when every teacher is a model file inside the repository: such predictions depend on
# committed files and the data alone, so they are committed too (about 0.9 MB for FER2013's Training and PublicTest
# faces) and a fresh checkout, whose runs/ is empty, does not predict them again. Relative to the project root.
KEPT_TARGETS = Path("models") / "teachers" / "targets"


def teacher_cache_dir(runs_root: Path, teachers: tuple[str, ...], root: Path | None = None) -> Path:
    """The cache folder for the predictions of ``teachers``: :data:`KEPT_TARGETS` under ``root`` (the project root
    by default) when each is a model file inside it, else :data:`TEACHER_CACHE` under the runs root."""
    resolved = [parse_teacher(name, runs_root, root) for name in teachers]
    home = Path(root or project_root()).resolve()
    if resolved and all(not t.is_run and t.path.resolve().is_relative_to(home) for t in resolved):
        return home / KEPT_TARGETS
    return Path(runs_root) / TEACHER_CACHE


def teacher_probs(runs_root: Path, teachers: tuple[str, ...], *arrays: np.ndarray,
                  views: str = "mirror") -> list[np.ndarray]:
    """The teachers' ensemble log-probabilities for each of ``arrays``: the mean over teachers and over each image's
    test-time ``views`` (:func:`train.ensemble.views`: ``mirror``, the image and its mirror image, or ``tencrop``;
    a teacher named with ``@<views>`` uses its own).
    Teachers are runs or model files (:mod:`train.teachers`), all checked before any predicts; each is loaded once."""
    from train.ensemble import member_logp

    resolved = [parse_teacher(name, runs_root) for name in teachers]
    for teacher in resolved:
        teacher.check()
    logs: list[list[np.ndarray]] = [[] for _ in arrays]
    for teacher in resolved:
        predict = teacher.predictor()
        for x, acc in zip(arrays, logs):
            acc.append(member_logp(predict, x, teacher.views_or(views)))
    return [np.mean(acc, axis=0) for acc in logs]


def _teacher_digests(runs_root: Path, teachers: tuple[str, ...]) -> dict[str, bytes]:
    """Each teacher's checkpoint digest (``b"missing"`` when absent), read once for every fingerprint of a call."""
    out = {}
    for name in dict.fromkeys(teachers):
        teacher = parse_teacher(name, runs_root)
        try:
            path = teacher.located()
        except (FileNotFoundError, ValueError):
            path = teacher.path
        out[name] = bytes.fromhex(sha256_file(path)) if path.exists() else b"missing"
    return out


def _teacher_fingerprint(teachers: tuple[str, ...], digests: dict[str, bytes], arrays: tuple[np.ndarray, ...],
                         views: str) -> str:
    """Digest of the teachers' checkpoints, their views and the images: a cache made from anything else is stale."""
    h = hashlib.sha256()
    for name in teachers:
        h.update(name.encode())
        h.update(digests[name])
    if views != "mirror":  # caches written before views were a choice stay valid
        h.update(f"views={views}".encode())
    for x in arrays:
        h.update(str(x.shape).encode())
        h.update(np.ascontiguousarray(x).tobytes())
    return h.hexdigest()


def _read_kept(folder: Path, key: str, count: int) -> list[np.ndarray] | None:
    """The predictions kept under ``key`` in ``folder``; None when absent, unreadable or made from other inputs."""
    path = folder / f"{key[:32]}.npz"
    if not path.exists():
        return None
    try:
        with np.load(path) as z:
            if str(z["fingerprint"]) == key:
                return [z[f"logp{i}"] for i in range(count)]
    except (OSError, KeyError, ValueError):
        pass  # unreadable or from another layout: predict again and overwrite it
    return None


def _write_kept(folder: Path, key: str, logps: list[np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez(buf, fingerprint=np.array(key), **{f"logp{i}": r for i, r in enumerate(logps)})
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / f"{key[:32]}.npz", buf.getvalue())


def _kept_groups(folder: Path, teachers: tuple[str, ...], key_of: Callable[[tuple[str, ...]], str],
                 count: int) -> tuple[list[tuple[int, list[np.ndarray]]], list[str]]:
    """Sub-ensembles of ``teachers`` (two or more, in the recipe's order) whose predictions ``folder`` already keeps,
    largest first and disjoint, as (size, predictions); and the teachers none of them covers."""
    groups: list[tuple[int, list[np.ndarray]]] = []
    remaining = list(teachers)
    size = len(remaining) - 1
    while size >= 2:
        for subset in itertools.combinations(range(len(remaining)), size):
            kept = _read_kept(folder, key_of(tuple(remaining[i] for i in subset)), count)
            if kept is not None:
                groups.append((size, kept))
                remaining = [t for i, t in enumerate(remaining) if i not in subset]
                size = min(size, len(remaining))
                break
        else:
            size -= 1
    return groups, remaining


def cached_teacher_probs(folder: Path, runs_root: Path, teachers: tuple[str, ...], *arrays: np.ndarray,
                         views: str = "mirror") -> list:
    """:func:`teacher_probs` of ``arrays``, kept in ``folder`` (:func:`teacher_cache_dir`) so a resumed run, the other
    variant and later students do not predict again. A file is used only when its teachers' checkpoints, the views
    and the images are unchanged (its name and content carry their digest).

    The ensemble is the plain mean over teachers, so it is put together from what is kept: the whole set if a file
    has it, else the largest kept sub-ensembles (a pair an earlier student kept) and each other teacher's own file,
    each weighted by its number of teachers. A teacher predicted here is kept alone, so adding a teacher to an
    ensemble costs that teacher's predictions only."""
    folder = Path(folder)
    count = len(arrays)
    digests = _teacher_digests(runs_root, teachers)

    def key_of(names: tuple[str, ...]) -> str:
        return _teacher_fingerprint(names, digests, arrays, views)

    whole = _read_kept(folder, key_of(tuple(teachers)), count)
    if whole is not None:
        return whole
    groups, remaining = _kept_groups(folder, tuple(teachers), key_of, count)
    alone_keys = {name: key_of((name,)) for name in remaining}  # each hashes the images: once a teacher
    kept_alone = {name: _read_kept(folder, key, count) for name, key in alone_keys.items()}
    for name in remaining:  # every teacher still to predict is checked before the first one predicts
        if kept_alone[name] is None:
            parse_teacher(name, runs_root).check()
    for name in remaining:
        alone = kept_alone[name]
        if alone is None:
            alone = teacher_probs(runs_root, (name,), *(x.astype(np.float32) for x in arrays), views=views)
            _write_kept(folder, alone_keys[name], alone)
        groups.append((1, alone))
    total = sum(size for size, _ in groups)
    return [(sum(size * kept[i].astype(np.float64) for size, kept in groups) / total).astype(np.float32)
            for i in range(count)]


def distillation_targets(teacher_logp: np.ndarray, y: np.ndarray, weight: float, temperature: float) -> np.ndarray:
    """``(1 - weight) * one_hot(y) + weight * softmax(teacher_logp / temperature)``, rows summing to 1."""
    from scipy.special import softmax

    soft = softmax(teacher_logp / temperature, axis=1)
    return (1.0 - weight) * np.eye(NUM_CLASSES)[y] + weight * soft
