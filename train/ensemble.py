"""``python -m train.ensemble``: score teacher runs alone and as an ensemble, with test-time views.

Teachers are worth distilling from only if they are better than the student. This scores each run's best checkpoint
and their ensemble (the mean of log-probabilities over runs and views, as distillation averages them) on the
evaluation split, with three kinds of views: ``one`` (the face), ``mirror`` (face and mirror image, what
distillation uses) and ``tencrop`` (for teachers only: the face and four corner crops of 44x44 pixels scaled back to
48x48, each with its mirror image). A member named with ``@<views>`` (``train.teachers``) is averaged over its own
views in every column, as a student distilling from that name would average it. Writes ``ensemble.json`` and
``ensemble.md`` with the command and machine.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.dataset import DataError, evaluation_split
from core.fileio import atomic_write_json, atomic_write_text
from core.paths import folder_problem, project_root
from core.provenance import command_line, provenance
from device.datasets import load_fer2013
from train.runs import RunNameError
from train.teachers import VIEWS, Teacher, TeacherFileError, parse_teacher

CROP = 44  # corner crops of the ten-crop views, scaled back to 48x48


def views(x: np.ndarray, kind: str) -> list[np.ndarray]:
    """The test-time views of (N, 48, 48, 1) faces: each a batch of the same shape."""
    if kind not in VIEWS:
        raise ValueError(f"views {kind!r}: expected one of {VIEWS}")
    out = [x]
    if kind == "tencrop":
        import cv2

        size = x.shape[1]
        for top, left in ((0, 0), (0, size - CROP), (size - CROP, 0), (size - CROP, size - CROP)):
            crops = x[:, top : top + CROP, left : left + CROP, 0]
            scaled = [cv2.resize(c, (size, size), interpolation=cv2.INTER_LINEAR) for c in crops]
            out.append(np.stack(scaled)[..., None])
    if kind in ("mirror", "tencrop"):
        out += [v[:, :, ::-1] for v in list(out)]
    return out


def member_logp(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, kind: str) -> np.ndarray:
    """Mean log-probabilities of one model (``predict``: float pixels -> probabilities) over the views of ``x``."""
    logs = [np.log(np.clip(predict(v.astype(np.float32)), 1e-7, 1.0)) for v in views(x, kind)]
    return np.mean(logs, axis=0)


def score(members: list[Teacher], x: np.ndarray, y: np.ndarray, kinds: tuple[str, ...]) -> dict:
    """Accuracy of each member and of the ensemble, per kind of views; a member whose name pins its views
    (``@<views>``) is averaged over those in every column."""
    result: dict = {"members": {}, "ensemble": {}, "pinned": {t.name: t.views for t in members if t.views}}
    sums = {k: np.zeros((len(x), 7)) for k in kinds}
    for teacher in members:
        teacher.check()
    for teacher in members:
        predict = teacher.predictor()
        result["members"][teacher.name] = {}
        by_views: dict[str, np.ndarray] = {}  # a pinned member is predicted once, not once per column
        for kind in kinds:
            own = teacher.views_or(kind)
            if own not in by_views:
                by_views[own] = member_logp(predict, x, own)
            logp = by_views[own]
            sums[kind] += logp
            result["members"][teacher.name][kind] = float((logp.argmax(1) == y).mean())
    for kind in kinds:
        result["ensemble"][kind] = float((sums[kind].argmax(1) == y).mean())
    return result


def render(result: dict, meta: dict) -> str:
    kinds = list(result["ensemble"])
    lines = [
        "# Teachers and their ensemble",
        "",
        f"`{meta['command']}` on `{meta['host']}` ({meta['platform']}), {meta['created']}. Accuracy in % on "
        f"**{meta['split']}** ({meta['faces']} faces). Views: " + "; ".join(
            {"one": "one: the face", "mirror": "mirror: face and mirror image",
             "tencrop": "tencrop: face and 4 corner crops, each mirrored"}[k] for k in kinds) + "."
        + (" A run named with @<views> is averaged over those views in every column." if result.get("pinned")
           else ""),
        "",
        "| run | " + " | ".join(kinds) + " |",
        "|---|" + "---|" * len(kinds),
    ]
    for name, accs in result["members"].items():
        lines.append(f"| {name} | " + " | ".join(f"{100 * accs[k]:.2f}" for k in kinds) + " |")
    lines.append("| **ensemble** | " + " | ".join(f"**{100 * result['ensemble'][k]:.2f}**" for k in kinds) + " |")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.ensemble", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="FER2013 csv(.gz) or folder")
    p.add_argument("--members", nargs="+", required=True, metavar="RUN",
                   help="runs as <recipe>-<epochs>ep/<variant>-seed<seed> (e.g. teacher-vgg-60ep/unweighted-seed0) "
                        "or float models as <path>.tflite#sha256=<first 12 hex digits> (e.g. the shipped "
                        "models/unweighted_float32.tflite#sha256=e34666a8a414), either ending in @<views> to pin that "
                        "member's views in every column (e.g. teacher-vgg-60ep/unweighted-seed0@tencrop)")
    p.add_argument("--runs", type=Path, default=project_root() / "runs", help="training runs root")
    p.add_argument("--views", nargs="+", choices=VIEWS, default=list(VIEWS), help="kinds of test-time views")
    p.add_argument("--out", type=Path, default=project_root() / "reports" / "ensemble", help="report folder")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if problem := folder_problem("--out", args.out, "the ensemble report"):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        members = [parse_teacher(name, args.runs) for name in args.members]
        for member in members:
            member.check()
        ds = load_fer2013(args.data)
    except (RunNameError, FileNotFoundError, TeacherFileError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    split = evaluation_split(ds.splits)
    sp = ds.splits[split]
    result = score(members, sp.x, sp.y, tuple(args.views))
    meta = {**provenance(command_line(argv, module="train.ensemble")), "split": split, "faces": len(sp)}
    atomic_write_json(args.out / "ensemble.json", {"meta": meta, **result})
    atomic_write_text(args.out / "ensemble.md", render(result, meta))
    print(render(result, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
