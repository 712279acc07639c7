"""``python -m train.study``: do inverse-frequency class weights help? Several seeds per variant, paired.

Trains every (variant, seed) run that is not complete yet (resuming interrupted ones), then reports per variant
the mean and standard deviation over seeds of accuracy, macro-F1, balanced accuracy and per-class precision and
recall, and the paired difference weighted - unweighted with a 95% t-interval, next to the study's claims.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from core.dataset import evaluation_split
from core.fileio import atomic_write_json, atomic_write_text
from core.labels import EMOTIONS
from core.paths import project_root
from core.provenance import command_line, provenance
from train.recipes import RECIPES, STUDY_RECIPE, VARIANTS

# The study's own figures (its "before -> after" claims), quoted for comparison only.
CLAIMS: dict[str, tuple[float, float]] = {
    "accuracy": (59.3, 65.0),
    "recall angry": (48.2, 58.2),
    "recall fear": (47.7, 59.1),
    "precision disgust": (41.9, 45.5),
}


def _metric_values(m: dict) -> dict[str, float]:
    vals = {"accuracy": m["accuracy"], "balanced_accuracy": m["balanced_accuracy"], "macro_f1": m["macro_f1"]}
    for c in EMOTIONS:
        vals[f"recall {c}"] = m["per_class"][c]["recall"]
        vals[f"precision {c}"] = m["per_class"][c]["precision"]
    return {k: 100 * v for k, v in vals.items()}


def paired_interval(diffs: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of paired differences and its two-sided t-interval (scipy's one-sample t-test on the differences, the
    same as ``ttest_rel``; nan bounds for fewer than 2 pairs)."""
    from scipy import stats

    diffs = np.asarray(diffs, dtype=float)
    mean = float(diffs.mean())
    if len(diffs) < 2:
        return mean, float("nan"), float("nan")
    if np.all(diffs == diffs[0]):  # no spread: scipy's interval is undefined, the difference is exact
        return mean, mean, mean
    ci = stats.ttest_1samp(diffs, 0.0).confidence_interval(confidence_level=level)
    return mean, float(ci.low), float(ci.high)


def aggregate(metrics: dict[str, dict[int, dict]], split: str) -> dict:
    """metrics[variant][seed] = metrics.json content -> summary dict (percent units)."""
    seeds = sorted(set.intersection(*(set(metrics[v]) for v in VARIANTS)))
    if not seeds:
        raise ValueError("no seed has both variants complete")
    per = {v: {s: _metric_values(metrics[v][s]["splits"][split]) for s in seeds} for v in VARIANTS}
    keys = list(per[VARIANTS[0]][seeds[0]])
    summary: dict = {"split": split, "seeds": seeds, "variants": {}, "paired": {}}
    for v in VARIANTS:
        summary["variants"][v] = {
            k: {"mean": float(np.mean([per[v][s][k] for s in seeds])),
                "std": float(np.std([per[v][s][k] for s in seeds], ddof=1)) if len(seeds) > 1 else 0.0,
                "values": [per[v][s][k] for s in seeds]}
            for k in keys
        }
    for k in keys:
        diffs = np.array([per["weighted"][s][k] - per["unweighted"][s][k] for s in seeds])
        mean, lo, hi = paired_interval(diffs)
        summary["paired"][k] = {"mean": mean, "ci95": [lo, hi], "diffs": diffs.tolist()}
    return summary


def verdict(p: dict) -> str:
    lo, hi = p["ci95"]
    if np.isnan(lo):
        return "one pair: no interval"
    if lo > 0:
        return "weights higher"
    if hi < 0:
        return "weights lower"
    return "no clear difference"


def answer(summary: dict) -> str:
    """The study's question answered in plain words, from the paired differences (all numbers computed)."""
    p = summary["paired"]
    n = len(summary["seeds"])

    def diff(k: str) -> str:
        lo, hi = p[k]["ci95"]
        return f"{p[k]['mean']:+.1f} pp (95% interval {lo:+.1f} to {hi:+.1f})"

    claimed = CLAIMS["accuracy"][1] - CLAIMS["accuracy"][0]
    lo, hi = p["accuracy"]["ci95"]
    inside = "inside" if lo <= claimed <= hi else "outside"
    up = [c for c in EMOTIONS if p[f"recall {c}"]["ci95"][0] > 0]
    down = [c for c in EMOTIONS if p[f"recall {c}"]["ci95"][1] < 0]
    return (
        f"Over {n} paired seeds on {summary['split']}, inverse-frequency class weights changed overall accuracy by "
        f"{diff('accuracy')}: {verdict(p['accuracy'])}. Balanced accuracy changed by {diff('balanced_accuracy')} "
        f"and macro-F1 by {diff('macro_f1')}. Recall rose clearly for {', '.join(up) or 'no class'} and fell "
        f"clearly for {', '.join(down) or 'no class'}; disgust precision changed by {diff('precision disgust')}. "
        f"The study's claimed accuracy gain ({claimed:+.1f} pp) lies {inside} our interval."
    )


def mean_sd(summary: dict, variant: str, key: str) -> str:
    m = summary["variants"][variant][key]
    return f"{m['mean']:.1f} ± {m['std']:.1f}"


def paired(summary: dict, key: str) -> str:
    p = summary["paired"][key]
    return f"{p['mean']:+.1f} [{p['ci95'][0]:+.1f}, {p['ci95'][1]:+.1f}]"


def render(summary: dict, meta: dict) -> str:
    v = summary["variants"]
    p = summary["paired"]
    n = len(summary["seeds"])

    def ms(var: str, k: str) -> str:
        return mean_sd(summary, var, k)

    def pd(k: str) -> str:
        return paired(summary, k)

    lines = [
        f"# Study: inverse-frequency class weights on FER2013 ({meta['recipe']} recipe, {meta['epochs']} epochs)",
        "",
        f"Generated {meta['created']} on `{meta['host']}` ({meta['platform']}) by `{meta['command']}`.",
        f"{n} seeds ({', '.join(map(str, summary['seeds']))}) per variant; metrics on **{summary['split']}** "
        f"(PublicTest when the data has no PrivateTest rows), best checkpoint by validation accuracy, inference "
        "mode. Values in %, mean ± sample standard deviation over seeds; paired difference = weighted - "
        f"unweighted for the same seed, mean [95% t-interval, {max(n - 1, 1)} d.f.].",
        "",
        "## Answer",
        "",
        answer(summary),
        "",
        "## Overall",
        "",
        "| metric | unweighted | weighted | paired difference | reading |",
        "|---|---|---|---|---|",
        *[f"| {k.replace('_', ' ')} | {ms('unweighted', k)} | {ms('weighted', k)} | {pd(k)} | {verdict(p[k])} |"
          for k in ("accuracy", "balanced_accuracy", "macro_f1")],
        "",
        "## Per class",
        "",
        "| class | recall unweighted | recall weighted | recall diff. | precision unweighted | precision weighted "
        "| precision diff. |",
        "|---|---|---|---|---|---|---|",
        *[f"| {c} | {ms('unweighted', f'recall {c}')} | {ms('weighted', f'recall {c}')} | {pd(f'recall {c}')} "
          f"| {ms('unweighted', f'precision {c}')} | {ms('weighted', f'precision {c}')} | {pd(f'precision {c}')} |"
          for c in EMOTIONS],
        "",
        "![recall](study_recall.png) ![precision](study_precision.png)",
        "",
        "## Against the study's claims",
        "",
        "The study reports one run per variant. Its numbers next to ours (per-class accuracy = recall):",
        "",
        "| figure | study: unweighted -> weighted (diff.) | here: unweighted -> weighted | here: paired diff. |",
        "|---|---|---|---|",
    ]
    for k, (a, b) in CLAIMS.items():
        lines.append(f"| {k} | {a:.1f} -> {b:.1f} ({b - a:+.1f}) | {v['unweighted'][k]['mean']:.1f} -> "
                     f"{v['weighted'][k]['mean']:.1f} | {pd(k)} |")
    lines.append("")
    return "\n".join(lines)


def train_command(args, recipe, variant: str, seed: int, threads: int) -> list[str]:
    """The ``python -m train`` command of one study run."""
    return [sys.executable, "-m", "train", "--data", str(args.data), "--recipe", recipe.name,
            "--epochs", str(recipe.epochs), "--variants", variant, "--seed", str(seed),
            "--runs", str(args.runs), "--threads", str(threads), "--no-report"]


def _train_missing(args, recipe, todo: list[tuple[str, int]]) -> None:
    """Train runs as subprocesses, ``--jobs`` at a time (a new one starts as soon as any finishes), each with
    cores/jobs threads; raises RuntimeError naming every run that failed."""
    from concurrent.futures import ThreadPoolExecutor

    threads = max(1, (os.cpu_count() or 1) // args.jobs)

    def run(cmd: list[str]) -> int:
        print("+", " ".join(cmd), flush=True)
        return subprocess.run(cmd).returncode

    commands = [train_command(args, recipe, variant, seed, threads) for variant, seed in todo]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        codes = list(pool.map(run, commands))
    failed = [" ".join(cmd) for cmd, code in zip(commands, codes) if code != 0]
    if failed:
        raise RuntimeError("training failed: " + "; ".join(failed))


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m train.study", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="FER2013 csv(.gz) or folder")
    ap.add_argument("--recipe", choices=sorted(RECIPES), default=STUDY_RECIPE, help="training recipe")
    ap.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (>= 3 for an interval)")
    ap.add_argument("--runs", type=Path, default=project_root() / "runs", help="training runs root")
    ap.add_argument("--jobs", type=int, default=2, help="training runs in parallel (threads split between them)")
    ap.add_argument("--out", type=Path, default=None, help="report folder (default reports/study/<recipe>-<E>ep)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from train.plots import plot_bars
    from train.runs import RunMismatchError, check_run_config, run_dir

    recipe = RECIPES[args.recipe].with_epochs(args.epochs)
    todo, metrics = [], {v: {} for v in VARIANTS}
    for seed in args.seeds:
        for v in VARIANTS:
            p = run_dir(args.runs, recipe.name, recipe.epochs, v, seed) / "metrics.json"
            try:
                check_run_config(p.parent, recipe)
            except RunMismatchError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            done = p.exists() and json.loads(p.read_text()).get("completed_epochs") == recipe.epochs
            if not done:
                todo.append((v, seed))
    if todo:
        _train_missing(args, recipe, todo)
    for seed in args.seeds:
        for v in VARIANTS:
            p = run_dir(args.runs, recipe.name, recipe.epochs, v, seed) / "metrics.json"
            metrics[v][seed] = json.loads(p.read_text())
    split = evaluation_split(*(m["splits"] for mv in metrics.values() for m in mv.values()))
    summary = aggregate(metrics, split)
    out = args.out or project_root() / "reports" / "study" / f"{recipe.name}-{recipe.epochs}ep"
    meta = {
        "recipe": recipe.name, "epochs": recipe.epochs,
        **provenance(command_line(argv, module="train.study")),
        "train_wall_s": {v: {s: metrics[v][s]["train_wall_s"] for s in summary["seeds"]} for v in VARIANTS},
    }
    for key in ("recall", "precision"):
        plot_bars({v: [summary["variants"][v][f"{key} {c}"]["mean"] for c in EMOTIONS] for v in VARIANTS},
                  out / f"study_{key}.png", f"Per-class {key} ({split}), mean over {len(summary['seeds'])} seeds",
                  f"{key} %",
                  errors={v: [summary["variants"][v][f"{key} {c}"]["std"] for c in EMOTIONS] for v in VARIANTS})
    atomic_write_json(out / "study.json", {"meta": meta, "claims": CLAIMS, **summary})
    atomic_write_text(out / "study.md", render(summary, meta))
    print(render(summary, meta))
    print(f"report: {out / 'study.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
