"""``python -m train``: train both variants of a recipe on FER2013 and write the comparison report."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from device.paths import project_root
from train.recipes import DEFAULT_RECIPE, RECIPES, VARIANTS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m train",
        description="Train FER2013 emotion CNNs (unweighted and class-weighted), evaluate, and report.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--data", type=Path, required=True, help="fer2013.csv(.gz) or Kaggle folder (train/, test/)")
    p.add_argument("--recipe", choices=sorted(RECIPES), default=DEFAULT_RECIPE, help="training recipe")
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS), help="variants to train")
    p.add_argument("--epochs", type=int, default=None, help="override the recipe's epoch count")
    p.add_argument("--seed", type=int, default=0, help="random seed (weights, shuffling, augmentation)")
    p.add_argument("--runs", type=Path, default=project_root() / "runs", help="root folder for run folders")
    p.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads (0: all cores)")
    p.add_argument("--no-report", action="store_true", help="skip the comparison report")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from device.dataset import DataError
    from train.pipeline import TeacherError, train_and_report
    from train.trainer import RunMismatchError

    if args.epochs is not None and args.epochs < 1:
        print(f"error: --epochs must be >= 1, got {args.epochs}", file=sys.stderr)
        return 2
    try:
        train_and_report(
            data=args.data,
            recipe=RECIPES[args.recipe].with_epochs(args.epochs),
            variants=tuple(args.variants),
            seed=args.seed,
            runs_root=args.runs,
            threads=args.threads,
            report=not args.no_report,
            command=" ".join(["python", "-m", "train", *(sys.argv[1:] if argv is None else argv)]),
        )
    except (DataError, RunMismatchError, TeacherError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
