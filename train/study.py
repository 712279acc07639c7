"""``python -m train.study``: do inverse-frequency class weights help? Several seeds per variant, paired.

Trains every (variant, seed) run of every budget that is neither finished nor archived (resuming interrupted ones,
archiving each as it finishes), then writes each budget's report and the report across budgets from the finished
runs (:mod:`train.study_report` owns what they say).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from core.argtypes import number_type
from core.dataset import evaluation_split
from core.fileio import atomic_write_json, atomic_write_text
from core.labels import EMOTIONS
from core.paths import folder_problem, project_root, shown
from core.provenance import command_line, provenance
from train.archive import archive_run, usable
from train.carry import drop_finished
from train.recipes import RECIPES, STUDY_RECIPE, VARIANTS, Recipe
from train.runs import RunRef, evaluated, run_dir
from train.study_report import (
    CLAIMS,
    aggregate,
    budget_row,
    load_json,
    plot_budgets,
    posthoc,
    render,
    render_budgets,
    scored_runs,
    tradeoff,
)


def train_command(args, recipe, variant: str, seed: int, threads: int) -> list[str]:
    """The ``python -m train`` command of one study run."""
    return [sys.executable, "-m", "train", "--data", str(args.data), "--recipe", recipe.name,
            "--epochs", str(recipe.epochs), "--variants", variant, "--seed", str(seed),
            "--runs", str(args.runs), "--threads", str(threads), "--no-report"]


def _train_missing(args, todo: list[tuple[Recipe, str, int]], archive: Path | None = None) -> None:
    """Train runs as subprocesses, ``--jobs`` at a time (a new one starts as soon as any finishes), each with
    cores/jobs threads, and copy each finished run into ``archive`` as soon as it finishes (so a session that ends
    mid-study keeps it); raises RuntimeError naming every run that failed."""
    from concurrent.futures import ThreadPoolExecutor

    threads = max(1, (os.cpu_count() or 1) // args.jobs)

    def run(item: tuple[list[str], tuple[Recipe, str, int]]) -> int:
        cmd, (recipe, variant, seed) = item
        print("+", " ".join(cmd), flush=True)
        code = subprocess.run(cmd).returncode
        folder = run_dir(args.runs, recipe.name, recipe.epochs, variant, seed)
        if code == 0 and archive is not None and evaluated(folder, recipe.epochs):
            kept = run_dir(archive, recipe.name, recipe.epochs, variant, seed)
            archive_run(folder, kept)
            print(f"archived {folder} -> {kept}", flush=True)
            _drop_carried(folder, recipe, variant, seed)
        return code

    commands = [train_command(args, recipe, variant, seed, threads) for recipe, variant, seed in todo]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        codes = list(pool.map(run, zip(commands, todo)))
    failed = [" ".join(cmd) for cmd, code in zip(commands, codes) if code != 0]
    if failed:
        raise RuntimeError("training failed: " + "; ".join(failed))


def _drop_carried(folder: Path, recipe: Recipe, variant: str, seed: int) -> None:
    """A finished run needs its carried state (reports/carry/) no more: remove it, when it is this run's own."""
    name = RunRef(recipe.name, recipe.epochs, variant, seed).name
    dropped = drop_finished(name, folder)
    if dropped is not None:
        print(f"{name} finished: its carried state {shown(dropped)} is removed (commit the removal)", flush=True)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m train.study", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="FER2013 csv(.gz) or folder")
    ap.add_argument("--recipe", choices=sorted(RECIPES), default=STUDY_RECIPE, help="training recipe")
    ap.add_argument("--epochs", type=number_type(int, 1, "an integer >= 1"), nargs="+", default=None,
                    help="training budget(s): epochs per run; several values make the budget a factor of the study "
                    "(one report per budget and a comparison across them); default: the recipe's")
    ap.add_argument("--seeds", type=number_type(int, 0, "an integer >= 0"), nargs="+", default=[0, 1, 2],
                    help="seeds (>= 3 for an interval)")
    ap.add_argument("--runs", type=Path, default=project_root() / "runs", help="training runs root")
    ap.add_argument("--jobs", type=number_type(int, 1, "an integer >= 1"), default=2,
                    help="training runs in parallel (threads split between them)")
    ap.add_argument("--out", type=Path, default=None,
                    help="report folder (default reports/study/<recipe>-<E>ep; with several budgets the folder "
                    "that holds one such folder per budget and <recipe>-budgets/)")
    ap.add_argument("--archive", type=Path, default=None,
                    help="where finished runs' report files are kept (config, metrics, predictions: small enough to "
                    "commit) so a later checkout without runs/ reports them instead of training them again "
                    "(default: runs/ beside the report folders, i.e. reports/study/runs)")
    ap.add_argument("--plan", action="store_true",
                    help="list every run of the study (each budget, seed and variant) with where it stands and the "
                    "epochs left, then stop: no data, no TensorFlow")
    ap.add_argument("--report-only", action="store_true",
                    help="train nothing: report the budgets whose runs are all finished (the others are listed as "
                    "pending in the budgets table), so a study trained over several sessions can be read as it goes")
    return ap


def _epoch_seconds(folder: Path) -> float | None:
    """A finished run's training wall time per epoch (None without a usable metrics.json)."""
    try:
        m = load_json(folder / "metrics.json")
        return float(m["train_wall_s"]) / int(m["completed_epochs"])
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
        return None


def study_plan(recipes: list[Recipe], seeds: list[int], runs_root: Path, archive: Path | None = None,
               jobs: int = 1) -> str:
    """Every run of the study in training order with its state (train.pipeline.plan_line; a run only in the
    ``archive`` is marked so: its data is checked when the study runs), the epochs left and, once some run has
    finished, the hours they take at the median pace of the finished runs, ``jobs`` at a time."""
    from train.pipeline import epochs_done, plan_line, run_status
    from train.runs import RunSpec

    lines = [f"study plan ({len(recipes)} budget(s) x {len(seeds)} seed(s) x {len(VARIANTS)} variants, under "
             f"{runs_root}" + (f", archive {archive}" if archive else "") + "):"]
    left, paces = 0, []
    for recipe in recipes:
        for seed in seeds:
            for v in VARIANTS:
                spec = RunSpec(recipe=recipe, variant=v, seed=seed, runs_root=runs_root)
                status = run_status(spec)
                kept = archive and run_dir(archive, recipe.name, recipe.epochs, v, seed)
                archived = status[0] != "complete" and kept and evaluated(kept, recipe.epochs)
                if status[0] == "complete" or archived:
                    paces.append(_epoch_seconds(kept if archived else spec.run_dir))
                if archived:
                    lines.append(f"  {spec.run_dir.relative_to(runs_root)} ({recipe.epochs} epochs, archived: "
                                 "reported from the archive, not trained)")
                    continue
                lines.append(plan_line(spec, runs_root, status=status))
                if status[0] in ("new", "partial"):
                    left += recipe.epochs - epochs_done(spec, status)
    paces = [p for p in paces if p]
    if not left:
        lines.append("every run is trained: the study only reports")
    elif not paces:
        lines.append(f"epochs left to train: {left}")
    else:
        pace = float(np.median(paces))
        lines.append(f"epochs left to train: {left}, about {left * pace / jobs / 3600:.1f} h at {jobs} run(s) at a "
                     f"time and {pace:.0f} s per epoch (the median of the {len(paces)} finished run(s): their "
                     "machine and parallelism)")
    return "\n".join(lines)


def study_budget(args, argv, recipe: Recipe, out: Path, folders: dict[tuple[str, int], Path]) -> dict:
    """Aggregate one budget's finished runs (``folders[(variant, seed)]``: a run folder or its archived copy) and
    write its report folder; returns study.json's content."""
    from train.plots import plot_bars, plot_tradeoff

    metrics: dict[str, dict[int, dict]] = {v: {} for v in VARIANTS}
    for seed in args.seeds:
        for v in VARIANTS:
            metrics[v][seed] = load_json(folders[(v, seed)] / "metrics.json")
    split = evaluation_split(*(m["splits"] for mv in metrics.values() for m in mv.values()))
    summary = aggregate(metrics, split)
    scored = scored_runs(folders, summary["seeds"], split)
    summary["posthoc"] = posthoc(scored, summary["seeds"]) if scored else None
    summary["curve"] = tradeoff(scored, summary["seeds"]) if scored else None
    archive = _archive_root(args)
    meta = {
        "recipe": recipe.name, "epochs": recipe.epochs,
        **provenance(command_line(argv, module="train.study")),
        "from_archive": sorted(f"{v}-seed{s}" for (v, s), f in folders.items() if f.is_relative_to(archive)),
        "train_wall_s": {v: {s: metrics[v][s]["train_wall_s"] for s in summary["seeds"]} for v in VARIANTS},
    }
    for key in ("recall", "precision"):
        plot_bars({v: [summary["variants"][v][f"{key} {c}"]["mean"] for c in EMOTIONS] for v in VARIANTS},
                  out / f"study_{key}.png", f"Per-class {key} ({split}), mean over {len(summary['seeds'])} seeds",
                  f"{key} %",
                  errors={v: [summary["variants"][v][f"{key} {c}"]["std"] for c in EMOTIONS] for v in VARIANTS})
    if summary["curve"]:
        plot_tradeoff(summary["curve"], out / "study_tradeoff.png",
                      f"Prior correction ({split}), mean over {len(summary['seeds'])} seeds")
    document = {"meta": meta, "claims": CLAIMS, **summary}
    atomic_write_json(out / "study.json", document)
    atomic_write_text(out / "study.md", render(summary, meta))
    print(render(summary, meta))
    print(f"report: {out / 'study.md'}")
    return document


def _archive_root(args) -> Path:
    return args.archive or (args.out or project_root() / "reports" / "study") / "runs"


def _data_summary(path: Path) -> dict:
    """The split and class counts of the data the study runs on (what an archived run must have been trained on)."""
    from core.dataset import load_fer2013

    return load_fer2013(path).summary()


def locate_runs(args, recipes: list[Recipe]) -> tuple[dict[int, dict[tuple[str, int], Path]],
                                                      list[tuple[Recipe, str, int]]]:
    """Where each finished run of the study is, per budget ({epochs: {(variant, seed): folder}}: its run folder, or
    its archived copy when runs/ lacks it and the copy was trained on the same data), and the runs still to train.

    Finished runs in runs/ are archived on the way. A run folder or archived copy recorded with another recipe
    raises :class:`train.runs.RunMismatchError`; the data loads only when an archived copy is a candidate."""
    from train.runs import check_run_config

    archive = _archive_root(args)
    found: dict[int, dict[tuple[str, int], Path]] = {r.epochs: {} for r in recipes}
    todo: list[tuple[Recipe, str, int]] = []
    candidates: list[tuple[Recipe, str, int, Path]] = []
    for recipe in recipes:
        for seed in args.seeds:
            for v in VARIANTS:
                folder = run_dir(args.runs, recipe.name, recipe.epochs, v, seed)
                kept = run_dir(archive, recipe.name, recipe.epochs, v, seed)
                check_run_config(folder, recipe)
                check_run_config(kept, recipe)
                if evaluated(folder, recipe.epochs):
                    if archive_run(folder, kept):
                        print(f"archived {folder} -> {kept}")
                    _drop_carried(folder, recipe, v, seed)
                    found[recipe.epochs][(v, seed)] = folder
                elif evaluated(kept, recipe.epochs):
                    candidates.append((recipe, v, seed, kept))
                else:
                    todo.append((recipe, v, seed))
    if candidates:
        summary = _data_summary(args.data)
        for recipe, v, seed, kept in candidates:
            if usable(kept, recipe.epochs, summary):
                found[recipe.epochs][(v, seed)] = kept
            else:
                print(f"note: {kept} was trained on other data (split and class counts differ from {args.data}'s); "
                      "it is trained again")
                todo.append((recipe, v, seed))
    return found, todo


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from core.dataset import DataError
    from train.runs import RunMismatchError

    recipes = [RECIPES[args.recipe].with_epochs(e) for e in (args.epochs or [RECIPES[args.recipe].epochs])]
    if args.plan:
        print(study_plan(recipes, args.seeds, args.runs, _archive_root(args), args.jobs))
        return 0
    for flag, folder, purpose in (("--runs", args.runs, "run folders"),
                                  ("--archive", _archive_root(args), "archived runs")):
        problem = folder_problem(flag, folder, purpose)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    try:
        found, todo = locate_runs(args, recipes)
    except (RunMismatchError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    pending = sorted({recipe.epochs for recipe, _, _ in todo}) if args.report_only else []
    if todo and not args.report_only:
        print(study_plan(recipes, args.seeds, args.runs, _archive_root(args), args.jobs), flush=True)
        _train_missing(args, todo, _archive_root(args))
        for recipe, v, seed in todo:
            found[recipe.epochs][(v, seed)] = run_dir(args.runs, recipe.name, recipe.epochs, v, seed)
    ready = [r for r in recipes if r.epochs not in pending]
    if not ready:
        print(f"error: no budget of {', '.join(f'{r.epochs} epochs' for r in recipes)} has all its runs finished "
              f"under {args.runs} or in {_archive_root(args)}; nothing to report (--plan lists where each run "
              "stands)", file=sys.stderr)
        return 2
    root = project_root() / "reports" / "study"
    several = len(recipes) > 1
    documents = []
    for recipe in ready:
        folder = f"{recipe.name}-{recipe.epochs}ep"
        out = (args.out or root) / folder if several else (args.out or root / folder)
        documents.append(study_budget(args, argv, recipe, out, found[recipe.epochs]))
    if several:
        out = (args.out or root) / f"{args.recipe}-budgets"
        budgets = {"meta": {**provenance(command_line(argv, module="train.study")), "recipe": args.recipe},
                   "budgets": [budget_row(d) for d in documents],
                   "pending": [{"epochs": e, "runs_left": sum(r.epochs == e for r, _, _ in todo)} for e in pending]}
        atomic_write_json(out / "budgets.json", budgets)
        plot_budgets(budgets, out / "budgets.png")
        atomic_write_text(out / "budgets.md", render_budgets(budgets))
        print(render_budgets(budgets))
        print(f"report: {out / 'budgets.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
