"""Knowledge distillation: the teachers' ensemble predictions (cached, :func:`teacher_cache_dir`) and the soft
training targets that mix them with the labels."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from core.fileio import atomic_write_bytes, sha256_file
from core.labels import NUM_CLASSES
from core.paths import project_root
from train.teachers import parse_teacher

# Where students keep their teachers' predictions, under the runs root: one file per teachers, views and images,
# so both variants of a student and its tail share one (the ten-crop views of a large teacher take minutes).
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


def _teacher_fingerprint(runs_root: Path, teachers: tuple[str, ...], arrays: tuple[np.ndarray, ...],
                         views: str) -> str:
    """Digest of the teachers' checkpoints, their views and the images: a cache made from anything else is stale."""
    h = hashlib.sha256()
    for name in teachers:
        h.update(name.encode())
        teacher = parse_teacher(name, runs_root)
        try:
            path = teacher.located()
        except (FileNotFoundError, ValueError):
            path = teacher.path
        h.update(bytes.fromhex(sha256_file(path)) if path.exists() else b"missing")
    if views != "mirror":  # caches written before views were a choice stay valid
        h.update(f"views={views}".encode())
    for x in arrays:
        h.update(str(x.shape).encode())
        h.update(np.ascontiguousarray(x).tobytes())
    return h.hexdigest()


def cached_teacher_probs(cache: Path, runs_root: Path, teachers: tuple[str, ...], *arrays: np.ndarray,
                         views: str = "mirror") -> list:
    """:func:`teacher_probs` of ``arrays``, kept in ``cache`` so a resumed run does not predict again; the cache is
    used only when the teachers' checkpoints, the views and the images are unchanged. ``cache`` is an ``.npz`` file,
    or a folder (:data:`TEACHER_CACHE`) that keeps one file per fingerprint, shared by every student."""
    key = _teacher_fingerprint(runs_root, teachers, arrays, views)
    cache = Path(cache)
    if cache.suffix != ".npz":
        cache = cache / f"{key[:32]}.npz"
    if cache.exists():
        try:
            with np.load(cache) as z:
                if str(z["fingerprint"]) == key:
                    return [z[f"logp{i}"] for i in range(len(arrays))]
        except (OSError, KeyError, ValueError):
            pass  # unreadable or from another layout: predict again and overwrite it
    result = teacher_probs(runs_root, teachers, *(x.astype(np.float32) for x in arrays), views=views)
    buf = io.BytesIO()
    np.savez(buf, fingerprint=np.array(key), **{f"logp{i}": r for i, r in enumerate(result)})
    cache.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(cache, buf.getvalue())
    return result


def distillation_targets(teacher_logp: np.ndarray, y: np.ndarray, weight: float, temperature: float) -> np.ndarray:
    """``(1 - weight) * one_hot(y) + weight * softmax(teacher_logp / temperature)``, rows summing to 1."""
    from scipy.special import softmax

    soft = softmax(teacher_logp / temperature, axis=1)
    return (1.0 - weight) * np.eye(NUM_CLASSES)[y] + weight * soft
