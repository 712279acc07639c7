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

from core.argtypes import number_type
from core.dataset import evaluation_split
from core.fileio import atomic_write_json, atomic_write_text
from core.labels import EMOTIONS
from core.paths import folder_problem, project_root
from core.provenance import command_line, provenance
from train.archive import archive_run, usable
from train.recipes import RECIPES, STUDY_RECIPE, VARIANTS, Recipe
from train.runs import PREDICTIONS, evaluated, run_dir

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


POSTHOC_TAUS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(41))  # 0 .. 2
# fixed in advance, not fitted: the correction to a uniform class prior, the prior that the inverse-frequency class
# weights N / (K * N_k) train toward (they scale each class's loss by 1 / its prior, up to a constant)
FIXED_TAU = 1.0


def matched_correction(unweighted: tuple[np.ndarray, np.ndarray], weighted: tuple[np.ndarray, np.ndarray],
                       priors: np.ndarray) -> dict:
    """The unweighted run's scores corrected by the training priors (``core.balance.adjust``) at the tau whose
    balanced accuracy comes closest to the weighted run's, against the weighted run itself (percent units).

    tau is chosen on the evaluation split the figures are read on (one knob, picked to match, not to maximise)."""
    from core.balance import adjust
    from core.metrics import classification_metrics

    (u_probs, y), (w_probs, y_w) = unweighted, weighted
    if not np.array_equal(y, y_w):
        raise ValueError("the two runs were evaluated on different faces")
    target = classification_metrics(y, w_probs)
    best = min(
        ((tau, classification_metrics(y, adjust(u_probs, priors, tau))) for tau in POSTHOC_TAUS),
        key=lambda item: abs(item[1]["balanced_accuracy"] - target["balanced_accuracy"]),
    )
    tau, m = best
    fixed = classification_metrics(y, adjust(u_probs, priors, FIXED_TAU))
    return {"tau": tau, "accuracy": 100 * m["accuracy"], "balanced_accuracy": 100 * m["balanced_accuracy"],
            "fixed_accuracy": 100 * fixed["accuracy"], "fixed_balanced_accuracy": 100 * fixed["balanced_accuracy"],
            "weighted_accuracy": 100 * target["accuracy"],
            "weighted_balanced_accuracy": 100 * target["balanced_accuracy"],
            "recall_disgust": 100 * m["per_class"]["disgust"]["recall"],
            "weighted_recall_disgust": 100 * target["per_class"]["disgust"]["recall"]}


def posthoc_summary(per_seed: dict[int, dict]) -> dict:
    """Paired over seeds: accuracy of the corrected unweighted model - the weighted model's, at matched balance
    (tau fitted per seed); and, as ``fixed``, accuracy and balanced accuracy differences at :data:`FIXED_TAU`, chosen
    in advance (no fitting noise)."""
    seeds = sorted(per_seed)

    def pair(corrected: str, weighted: str) -> dict:
        diffs = np.array([per_seed[s][corrected] - per_seed[s][weighted] for s in seeds])
        mean, lo, hi = paired_interval(diffs)
        return {"mean": mean, "ci95": [lo, hi], "diffs": diffs.tolist()}

    out = {"seeds": seeds, "per_seed": {str(s): per_seed[s] for s in seeds},
           "accuracy_diff": pair("accuracy", "weighted_accuracy"), "tau": [per_seed[s]["tau"] for s in seeds]}
    if all("fixed_accuracy" in per_seed[s] for s in seeds):
        out["fixed"] = {"tau": FIXED_TAU, "accuracy_diff": pair("fixed_accuracy", "weighted_accuracy"),
                        "balanced_accuracy_diff": pair("fixed_balanced_accuracy", "weighted_balanced_accuracy")}
    return out


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
        f"unweighted for the same seed, mean [95% t-interval, {max(n - 1, 1)} d.f.]."
        + (f" Read from the study's archive of finished runs (trained in an earlier session, same data): "
           f"{', '.join(meta['from_archive'])}." if meta.get("from_archive") else ""),
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
    ph = summary.get("posthoc")
    if ph:
        lines += [
            "## Prior correction instead of class weights",
            "",
            "The unweighted run's scores divided by the training split's class priors raised to tau (what "
            "`python -m device --balance TAU` does), tau picked per seed so that balanced accuracy matches the "
            "weighted run's (on the same split), against the weighted run:",
            "",
            "| seed | tau | balanced accuracy corrected / weighted | accuracy corrected / weighted | "
            "disgust recall corrected / weighted |",
            "|---|---|---|---|---|",
            *[f"| {s} | {r['tau']:g} | {r['balanced_accuracy']:.1f} / {r['weighted_balanced_accuracy']:.1f} | "
              f"{r['accuracy']:.1f} / {r['weighted_accuracy']:.1f} | {r['recall_disgust']:.1f} / "
              f"{r['weighted_recall_disgust']:.1f} |" for s, r in ph["per_seed"].items()],
            "",
            f"Accuracy, corrected unweighted - weighted, paired: {paired_text(ph['accuracy_diff'])} pp.",
            "",
        ]
        if ph.get("fixed"):
            fx = ph["fixed"]
            lines += [f"At tau {fx['tau']:g} for every seed (fixed in advance, not fitted: the uniform class prior the "
                      f"weights train toward), corrected unweighted - weighted, paired: accuracy "
                      f"{paired_text(fx['accuracy_diff'])} pp, balanced accuracy "
                      f"{paired_text(fx['balanced_accuracy_diff'])} pp.", ""]
    if summary.get("curve"):
        from core.balance import curve_table

        lines += [
            "## The trade-off curve",
            "",
            "Each variant's scores divided by the training priors to the power tau, from 0 (the model as trained) to "
            f"1 (the prior divided out), mean over {n} seeds, in %; the weighted model as trained is the weighted "
            "variant's tau-0 row (the same axes: `python -m device --balance TAU` moves a model along its curve).",
            "",
        ]
        for variant, rows in summary["curve"].items():
            lines += [f"### {variant}", "", *curve_table(rows), ""]
        lines += ["![trade-off](study_tradeoff.png)", ""]
    return "\n".join(lines)


def paired_text(p: dict) -> str:
    lo, hi = p["ci95"]
    return f"{p['mean']:+.1f} (95% interval {lo:+.1f} to {hi:+.1f})"


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
        return code

    commands = [train_command(args, recipe, variant, seed, threads) for recipe, variant, seed in todo]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        codes = list(pool.map(run, zip(commands, todo)))
    failed = [" ".join(cmd) for cmd, code in zip(commands, codes) if code != 0]
    if failed:
        raise RuntimeError("training failed: " + "; ".join(failed))


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
        m = _load(folder / "metrics.json")
        return float(m["train_wall_s"]) / int(m["completed_epochs"])
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
        return None


def study_plan(recipes: list[Recipe], seeds: list[int], runs_root: Path, archive: Path | None = None,
               jobs: int = 1) -> str:
    """Every run of the study in training order with its state (train.pipeline.plan_line; a run only in the
    ``archive`` is marked so: its data is checked when the study runs), the epochs left and, once some run has
    finished, the hours they take at the median pace of the finished runs, ``jobs`` at a time."""
    from train.pipeline import plan_line, run_status
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
                    left += recipe.epochs - len(status[1])
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


def _load(p: Path) -> dict:
    return json.loads(p.read_text())


def _run_predictions(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    path = folder / PREDICTIONS
    if not path.is_file():
        return None
    with np.load(path) as z:
        if f"{split}_probs" not in z:
            return None
        return z[f"{split}_probs"], z[f"{split}_y"]


def _run_priors(folder: Path) -> np.ndarray | None:
    from core.balance import prior_vector, priors_from_counts

    try:
        train = _load(folder / "config.json")["data_summary"]["train"]
        return prior_vector(priors_from_counts([train[c] for c in EMOTIONS]))
    except (OSError, KeyError, TypeError, ValueError):
        return None


def posthoc(folders: dict[tuple[str, int], Path], seeds: list[int], split: str) -> dict | None:
    """:func:`matched_correction` per seed, paired (None when a run has no predictions.npz, e.g. an older run);
    ``folders[(variant, seed)]``: where each run's files are (its run folder or its archived copy)."""
    per_seed = {}
    for seed in seeds:
        u_dir, w_dir = (folders[(v, seed)] for v in VARIANTS)
        u, w, priors = _run_predictions(u_dir, split), _run_predictions(w_dir, split), _run_priors(u_dir)
        if u is None or w is None or priors is None:
            return None
        per_seed[seed] = matched_correction(u, w, priors)
    return posthoc_summary(per_seed)


def tradeoff(folders: dict[tuple[str, int], Path], seeds: list[int], split: str) -> dict[str, list[dict]] | None:
    """Each variant's prior-correction trade-off curve (:func:`core.balance.tradeoff_curve`, tau 0 to 1, each run's
    own training priors) averaged over seeds; the weighted variant's tau-0 row is the weighted model as trained.
    None when a run has no predictions.npz."""
    from core.balance import mean_curve, tradeoff_curve

    curves: dict[str, list[list[dict]]] = {v: [] for v in VARIANTS}
    for seed in seeds:
        for v in VARIANTS:
            run, priors = _run_predictions(folders[(v, seed)], split), _run_priors(folders[(v, seed)])
            if run is None or priors is None:
                return None
            curves[v].append(tradeoff_curve(*run, priors))
    return {v: mean_curve(c) for v, c in curves.items()}


def study_budget(args, argv, recipe: Recipe, out: Path, folders: dict[tuple[str, int], Path]) -> dict:
    """Aggregate one budget's finished runs (``folders[(variant, seed)]``: a run folder or its archived copy) and
    write its report folder; returns study.json's content."""
    from train.plots import plot_bars, plot_tradeoff

    metrics: dict[str, dict[int, dict]] = {v: {} for v in VARIANTS}
    for seed in args.seeds:
        for v in VARIANTS:
            metrics[v][seed] = _load(folders[(v, seed)] / "metrics.json")
    split = evaluation_split(*(m["splits"] for mv in metrics.values() for m in mv.values()))
    summary = aggregate(metrics, split)
    summary["posthoc"] = posthoc(folders, summary["seeds"], split)
    summary["curve"] = tradeoff(folders, summary["seeds"], split)
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


def budget_row(document: dict) -> dict:
    """One budget's paired answers: accuracy and balanced accuracy (weighted - unweighted), and the prior-corrected
    unweighted model's accuracy against the weighted model's at matched balanced accuracy."""
    paired = document["paired"]
    row = {"epochs": document["meta"]["epochs"], "seeds": document["seeds"], "split": document["split"],
           "accuracy": paired["accuracy"], "balanced_accuracy": paired["balanced_accuracy"],
           "unweighted_accuracy": document["variants"]["unweighted"]["accuracy"]["mean"],
           "weighted_accuracy": document["variants"]["weighted"]["accuracy"]["mean"], "posthoc": None}
    if document.get("posthoc"):
        row["posthoc"] = {"accuracy_diff": document["posthoc"]["accuracy_diff"], "tau": document["posthoc"]["tau"],
                          "fixed": document["posthoc"].get("fixed")}
    return row


def plot_budgets(budgets: dict, path: Path) -> Path:
    """The paired differences (weighted - unweighted; corrected unweighted - weighted) against the budget."""
    from train.plots import plot_intervals

    def points(get) -> list[tuple[float, float, float, float]]:
        return [(r["epochs"], p["mean"], *p["ci95"]) for r in budgets["budgets"] if (p := get(r))]

    series = {
        "accuracy, weighted - unweighted": points(lambda r: r["accuracy"]),
        "balanced accuracy, weighted - unweighted": points(lambda r: r["balanced_accuracy"]),
        "accuracy at matched balance, corrected unweighted - weighted": points(
            lambda r: r["posthoc"] and r["posthoc"]["accuracy_diff"]),
        f"accuracy at tau {FIXED_TAU:g}, corrected unweighted - weighted": points(
            lambda r: r["posthoc"] and r["posthoc"].get("fixed") and r["posthoc"]["fixed"]["accuracy_diff"]),
    }
    return plot_intervals(series, path, f"Class weights across training budgets ({budgets['meta']['recipe']}), "
                          "paired over seeds, 95% intervals", "epochs per run", "pp")


def _ci(p: dict) -> str:
    lo, hi = p["ci95"]
    return f"{p['mean']:+.1f} [{lo:+.1f}, {hi:+.1f}]"


def _interval_words(p: dict) -> str:
    lo, hi = p["ci95"]
    return f"95% interval {lo:+.1f} to {hi:+.1f}"


def _side(p: dict) -> int:
    """+1 when the interval lies above zero, -1 below, 0 when it holds zero."""
    lo, hi = p["ci95"]
    return 1 if lo > 0 else -1 if hi < 0 else 0


def _change(p: dict, noun: str, down: str, up: str) -> str:
    """``p``'s paired difference in words: ``down`` or ``up`` when its interval excludes zero, else not clear."""
    side = _side(p)
    if side == 0:
        return f"changed {noun} by {p['mean']:+.1f} pp, not clearly either way ({_interval_words(p)})"
    return f"{down if side < 0 else up} {abs(p['mean']):.1f} pp of {noun} ({_interval_words(p)})"


def _knob(p: dict, noun: str) -> str:
    """The corrected unweighted model against the weighted one in words: ahead, behind or not clearly either."""
    side = _side(p)
    if side == 0:
        return f"was {p['mean']:+.1f} pp in {noun}, not clearly either way ({_interval_words(p)})"
    return f"was {abs(p['mean']):.1f} pp {'ahead' if side > 0 else 'behind'} in {noun} ({_interval_words(p)})"


def budget_answer(row: dict) -> str:
    """One budget's answer in plain words, every number and every verdict computed from its paired intervals."""
    seeds = len(row["seeds"])
    text = (f"At {row['epochs']} epochs ({seeds} seeds), class weights "
            f"{_change(row['accuracy'], 'accuracy', 'cost', 'added')} and "
            f"{_change(row['balanced_accuracy'], 'balanced accuracy', 'lost', 'bought')}.")
    ph = row.get("posthoc")
    if not ph:
        return text + " Prior correction was not measured at this budget (runs without saved predictions)."
    d = ph["accuracy_diff"]
    verdict = {1: "the knob beats the weighted model here", -1: "the weighted model beats the knob here",
               0: f"neither is clearly ahead over {seeds} seeds"}[_side(d)]
    taus = ", ".join(f"{t:g}" for t in ph["tau"])
    text += (f" Corrected to the weighted model's balanced accuracy (tau {taus}, per seed), the unweighted "
             f"model's accuracy differed from the weighted model's by {d['mean']:+.1f} pp ({_interval_words(d)}): "
             f"{verdict}.")
    fixed = ph.get("fixed")
    if fixed:
        a, b = fixed["accuracy_diff"], fixed["balanced_accuracy_diff"]
        text += (f" At tau {fixed['tau']:g} for every seed (fixed in advance: the uniform prior the weights train "
                 f"toward), the corrected unweighted model {_knob(a, 'accuracy')} and {_knob(b, 'balanced accuracy')} "
                 "against the weighted model.")
    return text


def budgets_answer(budgets: dict) -> str:
    """The study's answer across budgets in plain words: one sentence group per trained budget, then how the
    accuracy difference moved from the shortest budget to the longest, and what is not trained yet."""
    rows = budgets["budgets"]
    parts = [budget_answer(r) for r in rows]
    if len(rows) >= 2:
        first, last = rows[0]["accuracy"], rows[-1]["accuracy"]
        overlap = first["ci95"][0] <= last["ci95"][1] and last["ci95"][0] <= first["ci95"][1]
        parts.append(f"From {rows[0]['epochs']} to {rows[-1]['epochs']} epochs the accuracy difference went from "
                     f"{first['mean']:+.1f} to {last['mean']:+.1f} pp; " + (
                         "their intervals overlap, so this evidence does not tell the budgets apart." if overlap
                         else "their intervals do not overlap, so the budget changed the answer."))
    if budgets.get("pending"):
        parts.append("Not trained yet: " + ", ".join(f"{p['epochs']} epochs" for p in budgets["pending"]) + ".")
    return " ".join(parts)


def render_budgets(budgets: dict, image: str | None = "budgets.png") -> str:
    """budgets.md; ``image``: the plot's path as the page that shows it links it (None: no plot)."""
    rows = budgets["budgets"]
    lines = [
        f"# Class weights across training budgets ({budgets['meta']['recipe']} recipe)",
        "",
        budgets_answer(budgets),
        "",
        f"`{budgets['meta']['command']}` on `{budgets['meta']['host']}` ({budgets['meta']['platform']}), "
        f"{budgets['meta']['created']}. Paired over seeds, weighted - unweighted, mean [95% t-interval], in pp. "
        "Prior correction: the unweighted model's scores divided by the training priors to the power tau, tau "
        "picked per seed so its balanced accuracy matches the weighted model's; then its accuracy minus the "
        f"weighted model's. At tau {FIXED_TAU:g} (the same for every seed, fixed in advance): the corrected "
        "unweighted model's accuracy and balanced accuracy minus the weighted model's.",
        "",
        "| epochs | seeds | split | accuracy unweighted -> weighted | accuracy diff. | balanced accuracy diff. "
        "| corrected unweighted - weighted, accuracy at matched balance (tau per seed) "
        f"| corrected at tau {FIXED_TAU:g} - weighted, accuracy / balanced accuracy |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ph = (f"{_ci(r['posthoc']['accuracy_diff'])} (tau {', '.join(f'{t:g}' for t in r['posthoc']['tau'])})"
              if r["posthoc"] else "no predictions.npz (runs from before it was saved)")
        fixed = r["posthoc"] and r["posthoc"].get("fixed")
        at_fixed = (f"{_ci(fixed['accuracy_diff'])} / {_ci(fixed['balanced_accuracy_diff'])}" if fixed
                    else "not measured (report from before it was)")
        lines.append(f"| {r['epochs']} | {len(r['seeds'])} | {r['split']} | {r['unweighted_accuracy']:.1f} -> "
                     f"{r['weighted_accuracy']:.1f} | {_ci(r['accuracy'])} | {_ci(r['balanced_accuracy'])} | {ph} "
                     f"| {at_fixed} |")
    if image:
        lines += ["", f"![paired differences against the budget]({image})"]
    if budgets.get("pending"):
        lines += ["", "Not trained yet (the study resumes them; `--plan` lists each run): " + ", ".join(
            f"{p['epochs']} epochs ({p['runs_left']} run(s) left)" for p in budgets["pending"]) + "."]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
