"""``python -m train``: train both variants of a recipe on FER2013 and write the comparison report.

Arguments, the run folders and the data are checked before TensorFlow is imported, so bad input is reported at once.
Exit codes: 0 done, 2 bad input, 130 stopped by Ctrl-C or SIGTERM (run the same command to resume).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from core.argtypes import number_type
from core.paths import folder_problem, project_root
from train.recipes import DEFAULT_RECIPE, RECIPES, VARIANTS
from train.runs import STOP_ASKED

EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 2, 130


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m train",
        description="Train FER2013 emotion CNNs (unweighted and class-weighted), evaluate, and report.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--data", type=Path, required=True, help="fer2013.csv(.gz) or Kaggle folder (train/, test/)")
    p.add_argument("--recipe", choices=sorted(RECIPES), default=DEFAULT_RECIPE, help="training recipe")
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS), help="variants to train")
    p.add_argument("--epochs", type=number_type(int, 1, "an integer >= 1"), default=None,
                   help="override the epoch count of this recipe's own runs (runs it needs first, such as teachers "
                   "or a starting checkpoint, keep theirs: the plan printed at the start lists them)")
    p.add_argument("--seed", type=number_type(int, 0, "an integer >= 0"), default=0,
                   help="random seed (weights, shuffling, augmentation)")
    p.add_argument("--runs", type=Path, default=project_root() / "runs", help="root folder for run folders")
    p.add_argument("--threads", type=number_type(int, 0, "an integer >= 0"), default=0,
                   help="TensorFlow intra-op threads (0: all cores)")
    p.add_argument("--no-report", action="store_true", help="skip the comparison report")
    p.add_argument("--plan", action="store_true",
                   help="print what this command would train (the runs in order, their epochs and where each "
                   "stands) and exit: nothing is loaded or trained")
    return p


def check_runs_root(runs: Path) -> str | None:
    """Why run folders cannot be written under ``runs`` (None when they can); made before any heavy work."""
    return folder_problem("--runs", runs, "run folders")


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _stop_on_signals() -> None:
    """SIGTERM (kill, systemd, a CI timeout) stops training like Ctrl-C (SIGINT): the finished epochs are kept. The
    stop is also recorded (:data:`train.runs.STOP_ASKED`), so that training raises it again at the next batch should
    this raise land where Python discards it."""

    def interrupt(signum, frame):
        STOP_ASKED.set()
        raise KeyboardInterrupt

    for sig in STOP_SIGNALS:
        signal.signal(sig, interrupt)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    problem = check_runs_root(args.runs)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from core.dataset import DataError
    from core.devicecrops import DeviceCropsError
    from train.carry import CarryError
    from train.pipeline import TeacherError, check_run_folders, plan_text, train_and_report
    from train.runs import ClassWeightError, RunMismatchError, TrainingInterrupted

    try:
        recipe = RECIPES[args.recipe].with_epochs(args.epochs)
    except ValueError as exc:  # e.g. --epochs for a soup, which trains nothing
        print(f"error: --epochs {args.epochs}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # train_and_report checks the input, then imports TensorFlow
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    STOP_ASKED.clear()
    _stop_on_signals()
    try:
        if args.plan:  # the plan alone: the run folders checked, nothing loaded or trained
            check_run_folders(recipe, tuple(args.variants), args.seed, args.runs)
            print(plan_text(recipe, tuple(args.variants), args.seed, args.runs))
            return EXIT_OK
        train_and_report(
            data=args.data,
            recipe=recipe,
            variants=tuple(args.variants),
            seed=args.seed,
            runs_root=args.runs,
            threads=args.threads,
            report=not args.no_report,
            command=" ".join(["python", "-m", "train", *(sys.argv[1:] if argv is None else argv)]),
        )
    except (DataError, RunMismatchError, TeacherError, ClassWeightError, DeviceCropsError, CarryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except TrainingInterrupted as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("stopped before an epoch finished; run the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        STOP_ASKED.clear()
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
