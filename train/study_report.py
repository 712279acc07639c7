"""The study's reports: what ``python -m train.study`` reads from finished runs and writes about them.

One budget's runs (a run folder or its archived copy per variant and seed) become ``study.json`` and ``study.md``:
per variant the mean and standard deviation over seeds of accuracy, macro-F1, balanced accuracy and per-class
precision and recall, the paired difference weighted - unweighted with a 95% t-interval next to the study's claims,
prior correction of the unweighted runs against the weighted ones (at matched balance, tau fitted per seed, and at
:data:`FIXED_TAU`) and both variants' trade-off curves. Several budgets become ``budgets.json`` and ``budgets.md``
(:func:`budget_row`, :func:`render_budgets`), which open with the answer in words (:func:`budgets_answer`). This
module owns those formats; :mod:`train.study` trains the runs and writes the files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.labels import EMOTIONS
from train.recipes import VARIANTS
from train.runs import PREDICTIONS

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


POSTHOC_TAUS: tuple[float, ...] = tuple(round(0.01 * i, 2) for i in range(201))  # 0 .. 2, the knob's range


# fixed in advance, not fitted: the correction to a uniform class prior, the prior that the inverse-frequency class
# weights N / (K * N_k) train toward (they scale each class's loss by 1 / its prior, up to a constant)
FIXED_TAU = 1.0


def matched_correction(unweighted: tuple[np.ndarray, np.ndarray], weighted: tuple[np.ndarray, np.ndarray],
                       priors: np.ndarray) -> dict:
    """The unweighted run's scores corrected by the training priors (``core.balance.adjust``) at the least tau that
    reaches the weighted run's balanced accuracy (:func:`core.balance.first_reaching`; ``reached`` False when no tau
    up to 2 does, and the closest is used), against the weighted run itself (percent units); and at
    :data:`FIXED_TAU`.

    tau is chosen on the evaluation split the figures are read on (one knob, picked to match, not to maximise)."""
    from core.balance import adjust, first_reaching
    from core.metrics import classification_metrics

    (u_probs, y), (w_probs, y_w) = unweighted, weighted
    if not np.array_equal(y, y_w):
        raise ValueError("the two runs were evaluated on different faces")
    target = classification_metrics(y, w_probs)
    rows = ({"tau": tau, **classification_metrics(y, adjust(u_probs, priors, tau))} for tau in POSTHOC_TAUS)
    m, reached = first_reaching(rows, target["balanced_accuracy"])  # computes rows only up to the first that reaches
    fixed = classification_metrics(y, adjust(u_probs, priors, FIXED_TAU))
    return {"tau": m["tau"], "reached": reached, "accuracy": 100 * m["accuracy"],
            "balanced_accuracy": 100 * m["balanced_accuracy"],
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
           "accuracy_diff": pair("accuracy", "weighted_accuracy"), "tau": [per_seed[s]["tau"] for s in seeds],
           "unreached": [s for s in seeds if per_seed[s].get("reached") is False]}
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
            "`python -m device --balance TAU` does), tau per seed the least (in steps of 0.01 up to 2) whose balanced "
            "accuracy reaches the weighted run's (on the same split; * when none does and the closest is used), "
            "against the weighted run:",
            "",
            "| seed | tau | balanced accuracy corrected / weighted | accuracy corrected / weighted | "
            "disgust recall corrected / weighted |",
            "|---|---|---|---|---|",
            *[f"| {s} | {r['tau']:g}{'*' if r.get('reached') is False else ''} | {r['balanced_accuracy']:.1f} / "
              f"{r['weighted_balanced_accuracy']:.1f} | "
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


def load_json(p: Path) -> dict:
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
        train = load_json(folder / "config.json")["data_summary"]["train"]
        return prior_vector(priors_from_counts([train[c] for c in EMOTIONS]))
    except (OSError, KeyError, TypeError, ValueError):
        return None


def scored_runs(folders: dict[tuple[str, int], Path], seeds: list[int], split: str
                ) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
    """Each run's saved scores on ``split``, labels and training priors, read once for :func:`posthoc` and
    :func:`tradeoff` (``folders[(variant, seed)]``: its run folder or its archived copy); None when a run has no
    predictions.npz (e.g. an older run) or no recorded class counts."""
    scored = {}
    for seed in seeds:
        for v in VARIANTS:
            run, priors = _run_predictions(folders[(v, seed)], split), _run_priors(folders[(v, seed)])
            if run is None or priors is None:
                return None
            scored[(v, seed)] = (*run, priors)
    return scored


def posthoc(scored: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, np.ndarray]], seeds: list[int]) -> dict:
    """:func:`matched_correction` per seed (the unweighted run's own training priors), paired."""
    per_seed = {}
    for seed in seeds:
        (u_probs, u_y, priors), (w_probs, w_y, _) = (scored[(v, seed)] for v in VARIANTS)
        per_seed[seed] = matched_correction((u_probs, u_y), (w_probs, w_y), priors)
    return posthoc_summary(per_seed)


def tradeoff(scored: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, np.ndarray]],
             seeds: list[int]) -> dict[str, list[dict]]:
    """Each variant's prior-correction trade-off curve (:func:`core.balance.tradeoff_curve`, tau 0 to 1, each run's
    own training priors) averaged over seeds; the weighted variant's tau-0 row is the weighted model as trained."""
    from core.balance import mean_curve, tradeoff_curve

    return {v: mean_curve([tradeoff_curve(*scored[(v, seed)]) for seed in seeds]) for v in VARIANTS}


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
                          "unreached": document["posthoc"].get("unreached", []),
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
    short = ph.get("unreached") or []
    text += (f" Corrected to the weighted model's balanced accuracy (the least tau that reaches it: {taus}, per "
             f"seed), the unweighted model's accuracy differed from the weighted model's by {d['mean']:+.1f} pp "
             f"({_interval_words(d)}): {verdict}" + (
                 f" (on seed {', '.join(map(str, short))} no tau up to 2 reached that balance; the closest was used)"
                 if short else "") + ".")
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
        "per seed the least that reaches the weighted model's balanced accuracy; then its accuracy minus the "
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
