"""A candidate models folder against the shipped one, and whether to ship it (``python -m benchmarks compare``).

A new student ships only when it is better where users meet it (issue "stronger teachers"). On the same evaluation
faces (the test split, else PublicTest), for every variant in both folders, the ``--format`` model of each (int8 by
default, as the device runs it, with the views each model has in its graph) is scored:

1. accuracy, balanced accuracy and macro-F1, and the paired difference candidate - shipped with a 95% interval
   (the faces are the unit: :func:`benchmarks.stats.paired_interval_pp`);
2. the face-box jitter table (:data:`benchmarks.accuracy.JITTERS`, int8 models) of both;
3. with a detector (default: the demo's), accuracy on its calibrated crops of the evaluation faces placed on canvases
   exactly as the camera benchmark places them (same seed: the same faces, canvases and boxes), against the same
   faces' dataset crops: the camera path's crop shortfall for both models, and the candidate's difference from the
   shipped model on the same crops with its interval (faces the unit);
4. the candidate's own float32 model against its quantised one (agreement, accuracy difference);
5. what each model costs the device: microseconds per face of both (1 thread, timed in alternating rounds in this
   run, so that the machine's noise falls on both alike) and, with a detector, the classifier's share of detection
   plus classification on the placed canvases (one face each; detection timed as it runs for part 3);
6. what the models folder would weigh once the candidate ships (:func:`projected_size`): every shipped file replaced
   by the candidate's, or, for a format or variant the candidate folder lacks, scaled by the candidate's size ratio.

:func:`decide` applies :data:`RULE`: ship when the headline variant's model gains at least ``min_gain_pp``, no
jitter row of any variant is worse than the shipped model's, no variant is worse on the detector's calibrated crops
(part 3: the issue asks that accuracy on detector crops holds; a flip-only tail gained on PublicTest and lost there),
no candidate costs more than ``max_cost_ratio`` times the shipped model's classifier or takes
``max_classifier_share`` of the frame (issue "stronger teachers": a student of at most twice the classifier's cost,
only while the classifier stays well under a quarter of the frame; so the share bounds a costlier candidate, not one
at the shipped network's cost, whose share the shipped model already takes), and the committed models stay under
``max_models_mib`` together (they must stay well under 10 MB; a student of twice the parameters makes all eight
formats about 17 MiB).
A candidate whose float32 models are the shipped ones (the same scores on every evaluation face: the same
checkpoints converted another way) is judged by :data:`CONVERSION_RULE` instead: it cannot gain what a new student
must, so it ships when every
variant's quantised model agrees with its float32 more often than the shipped one does, within the issue's int8
band of it and of the shipped model on every jitter row and on the detector's crops, at the same cost.
A candidate that brings a new weighted model only (its unweighted float32 model the shipped one, or none) is judged by
:data:`WEIGHTED_RULE`: the student rule with the weighted variant as its headline, which must also stay at least as
balanced as the shipped weighted model (:func:`rule_for` picks the rule). A model made for the camera path is judged,
when asked for by name (``--rule camera``), by :data:`CAMERA_RULE`: no less accurate on PublicTest, more accurate on
the detector's calibrated crops and within the issue's 1 pp of its dataset crops there.
:data:`TARGETS` are the issue's targets, checked for the candidate. Writes ``compare.md`` and ``compare.json`` with
the command and machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.errors import BenchError
from benchmarks.latency import LatencySettings, sample_faces, time_classifier
from benchmarks.models import ModelFile, ModelSet, model_files
from benchmarks.progress import note
from benchmarks.stats import paired_interval_pp
from core.fileio import atomic_write_json, atomic_write_text
from core.formats import REFERENCE_FORMAT
from core.labels import INPUT_SIZE
from core.metrics import classification_metrics, near_tie_note, top1_agreement
from core.paths import shown


@dataclass(frozen=True)
class ShipRule:
    """Ship the candidate when ``variant``'s model gains at least ``min_gain_pp`` over the shipped one, no jitter
    row (any variant) loses more than ``jitter_tolerance_pp``, where the detector's crops were scored no variant's
    calibrated-crop accuracy falls more than ``crop_tolerance_pp`` below the shipped model's, where the cost was
    timed no candidate's classifier costs more than ``max_cost_ratio`` times the shipped one's nor takes
    ``max_classifier_share`` of the frame (only a candidate that costs more than ``same_cost_ratio`` times the
    shipped one's: at the shipped network's cost the share is the one the shipped model already takes, and the issue
    bounds it for a costlier student), and the models folder would weigh less than ``max_models_mib`` with the
    candidate in it (:func:`projected_size`)."""

    variant: str = "unweighted"
    min_gain_pp: float = 0.5
    jitter_tolerance_pp: float = 0.0
    crop_tolerance_pp: float = 0.0
    max_cost_ratio: float = 2.0
    max_classifier_share: float = 0.25
    same_cost_ratio: float = 1.1  # within this, the shipped network's cost (timing noise), as CONVERSION_RULE's
    max_models_mib: float = 10.0  # tests/device/test_shipped_models.py checks the committed models against it
    # Instead of the gain: every variant's quantised model agrees with its float32 more often than the shipped one
    # does with its own, and its accuracy stays within ``band_pp`` of that float32's (:data:`CONVERSION_RULE`).
    faithful: bool = False
    band_pp: float = 0.3
    # When set: the headline variant's balanced accuracy at least the shipped one's plus this (pp); a weighted
    # model must still do what its class weights are for (:data:`WEIGHTED_RULE`).
    min_balanced_delta_pp: float | None = None
    # When set: the headline variant's accuracy on the detector's calibrated crops at least the shipped one's plus
    # this (pp), and its crop shortfall (dataset crops - calibrated crops of the same faces) at most
    # ``max_shortfall_pp``: a model made for the camera path (:data:`CAMERA_RULE`).
    min_crop_gain_pp: float | None = None
    max_shortfall_pp: float | None = None

    def describe(self) -> str:
        if self.faithful:
            first = (f"every variant's {{fmt}} agrees with its float32 more often than the shipped one does and stays "
                     f"within {self.band_pp:g} pp of it, no face-box jitter row and no calibrated-crop accuracy more "
                     f"than {self.jitter_tolerance_pp:g} pp below the shipped model's")
        else:
            balanced = ("" if self.min_balanced_delta_pp is None else
                        " with its balanced accuracy no lower than the shipped model's"
                        + (f" {self.min_balanced_delta_pp:+g} pp" if self.min_balanced_delta_pp else ""))
            camera = ("" if self.min_crop_gain_pp is None else
                      f", at least {self.min_crop_gain_pp:g} pp more on the detector's calibrated crops"
                      + ("" if self.max_shortfall_pp is None else
                         f" and within {self.max_shortfall_pp:g} pp of its dataset crops there"))
            first = (f"{self.variant} gains at least {self.min_gain_pp} pp{balanced}{camera}, no face-box jitter row "
                     "worse, no variant worse on the detector's calibrated crops")
        share = ("" if self.max_classifier_share >= 1.0
                 else f" and, if it costs more than {self.same_cost_ratio:g}x, under "
                 f"{100 * self.max_classifier_share:.0f}% of the frame")
        return (f"{first}, the classifier at most {self.max_cost_ratio:g}x the shipped one's cost{share}, the models "
                f"under {self.max_models_mib:g} MiB together")


# How the classifiers are timed: rounds that alternate shipped and candidate, each like the latency part's quick
# settings but long enough for medians of a few thousand calls.
COST_TIMING = LatencySettings(warmup=20, min_runs=200, min_seconds=0.2, max_runs=5000)
COST_ROUNDS = 5


RULE = ShipRule()
# A candidate whose float32 models are the shipped ones (the same checkpoints converted another way: weight rounding,
# the int8 head) cannot gain what a new student must; it ships when it is more faithful to the float models that
# ship, within the int8 band everywhere users meet it, at the same cost (the same network: the share of the
# frame is the shipped model's). Written down before the first such comparison's jitter, crop and cost rows were
# read, its parity figures already seen (docs/results.md: int8 against float32).
# Two float32 models score every evaluation face alike to this (probability): the same float model.
SAME_FLOAT_ATOL = 1e-5
CONVERSION_RULE = ShipRule(faithful=True, jitter_tolerance_pp=0.3, crop_tolerance_pp=0.3, max_cost_ratio=1.1,
                           max_classifier_share=1.0)
# A candidate whose unweighted float32 model is the shipped one and whose weighted one is not (a new weighted model
# beside the shipped unweighted one) cannot gain on the unweighted variant; it ships when the weighted model gains
# what a new student must, on every row the student rule checks, and stays at least as balanced as the shipped
# weighted model (accuracy bought by giving up the class weights' purpose is not a weighted model's gain). Written
# down in session 39 with the recipes it was made for (train.recipes: student-vggnet-deferred-*), before they were
# trained or scored.
WEIGHTED_RULE = ShipRule(variant="weighted", min_balanced_delta_pp=0.0)
# A new unweighted model made for the camera path (issue 16: the detector's calibrated crops within 1 pp of the
# dataset crops) rather than for PublicTest: it ships when it is no less accurate on PublicTest, at least 0.5 pp more
# accurate on the calibrated crops with its shortfall there within the 1 pp, and no worse on any other row
# the student rule checks. Asked for by name (``--rule camera``), never picked by :func:`rule_for`: written down in
# session 40 with the recipe it was made for (train.recipes: student-vggnet-restart-device-soup), before that was
# trained or scored.
CAMERA_RULE = ShipRule(min_gain_pp=0.0, min_crop_gain_pp=0.5, max_shortfall_pp=1.0)

# Each rule by the name a comparison records, with how its report introduces it.
RULES: dict[str, tuple[ShipRule, str]] = {
    "student": (RULE, "rule: "),
    "conversion": (CONVERSION_RULE, "the candidate's float32 models are the shipped ones, so the rule for a "
                   "conversion: "),
    "weighted student": (WEIGHTED_RULE, "the candidate brings a new weighted model only (its unweighted float32 model "
                         "the shipped one, or none), so the rule for a weighted model: "),
    "camera": (CAMERA_RULE, "the rule asked for, for a model made for the camera path: "),
}
# The rules a comparison may be asked to apply by name (``auto``: :func:`rule_for` picks).
ASKED_RULES = ("auto", "camera")


def _checked_rule(asked: str) -> str:
    """``asked`` when it is one of :data:`ASKED_RULES`, else BenchError naming them."""
    if asked not in ASKED_RULES:
        raise BenchError(f"rule {asked!r}: expected one of {', '.join(ASKED_RULES)}")
    return asked


def rule_for(same_float: dict[str, bool], asked: str = "auto") -> tuple[str, ShipRule]:
    """``(name, rule)`` judging a comparison: the rule ``asked`` for by name, else from which compared variants'
    float32 models are the shipped ones (``same_float``, by variant): all of them, :data:`CONVERSION_RULE`; the
    unweighted one not, :data:`RULE`; only the weighted one not (the unweighted the shipped one, or not in the
    candidate folder), :data:`WEIGHTED_RULE`."""
    if _checked_rule(asked) != "auto":
        return asked, RULES[asked][0]
    if same_float and all(same_float.values()):
        return "conversion", CONVERSION_RULE
    if same_float.get(RULE.variant) is False or WEIGHTED_RULE.variant not in same_float:
        return "student", RULE
    return "weighted student", WEIGHTED_RULE


@dataclass(frozen=True)
class Target:
    name: str
    value: Callable[[dict], float | None]  # of the whole result
    threshold: float
    at_least: bool


def _variant(result: dict, variant: str) -> dict | None:
    return result["variants"].get(variant)


def _acc_pp(result: dict, variant: str) -> float | None:
    v = _variant(result, variant)
    return None if v is None else 100.0 * v["candidate"]["accuracy"]


def _weighted_gap(result: dict) -> float | None:
    a, b = _acc_pp(result, "unweighted"), _acc_pp(result, "weighted")
    return None if a is None or b is None else a - b


def _worst(result: dict, key: str, pick: Callable) -> float | None:
    values = [v["quantisation"][key] for v in result["variants"].values() if v.get("quantisation")]
    return pick(values) if values else None


# Issue "stronger teachers", for the candidate.
TARGETS: tuple[Target, ...] = (
    Target("unweighted accuracy %", lambda r: _acc_pp(r, "unweighted"), 70.0, True),
    Target("weighted behind unweighted, pp", _weighted_gap, 1.5, False),
    Target("largest accuracy gap quantised to float32, pp", lambda r: _worst(r, "abs_delta_pp", max), 0.3, False),
    Target("lowest top-1 agreement with float32, %", lambda r: _worst(r, "agreement_pct", min), 99.5, True),
)


def check_targets(result: dict) -> list[dict]:
    rows = []
    for t in TARGETS:
        value = t.value(result)
        met = None if value is None else (value >= t.threshold if t.at_least else value <= t.threshold)
        rows.append({"target": t.name, "value": value, "threshold": t.threshold,
                     "at_least": t.at_least, "met": met})
    return rows


def decide(result: dict, rule: ShipRule = RULE) -> dict:
    """{"ship": bool, "reasons": [...]}: ``rule`` (one of :data:`RULES`) applied to :func:`compare`'s result."""
    reasons: list[str] = []
    ship = True
    head = _variant(result, rule.variant)
    if head is None:
        return {"ship": False, "reasons": [f"no {rule.variant} model in both folders: nothing to decide on"]}
    gain = head["gain_pp"]
    if rule.faithful:
        ship = _faithful(result, rule, reasons)
    elif gain >= rule.min_gain_pp:
        reasons.append(f"{rule.variant} gains {gain:+.2f} pp (at least {rule.min_gain_pp} needed)")
    else:
        ship = False
        reasons.append(f"{rule.variant} gains {gain:+.2f} pp: less than the {rule.min_gain_pp} pp needed")
    if not rule.faithful and rule.min_balanced_delta_pp is not None:
        s_bal, c_bal = head["shipped"]["balanced_accuracy"], head["candidate"]["balanced_accuracy"]
        delta = 100 * (c_bal - s_bal)
        text = (f"{rule.variant}: balanced accuracy {100 * c_bal:.2f}% against the shipped {100 * s_bal:.2f}% "
                f"({delta:+.2f} pp)")
        if delta < rule.min_balanced_delta_pp:
            ship = False
            reasons.append(f"{text}: less balanced than the shipped {rule.variant} model")
        else:
            reasons.append(text)
    if not rule.faithful and rule.min_crop_gain_pp is not None:
        ship = _camera(head.get("crops"), rule, reasons) and ship
    worse = [(variant, row) for variant, v in result["variants"].items() for row in v["jitter"]
             if row["delta_pp"] < -rule.jitter_tolerance_pp]
    if worse:
        ship = False
        reasons += [f"{variant} / {row['jitter']}: {100 * row['candidate']:.1f}% against the shipped "
                    f"{100 * row['shipped']:.1f}% ({row['delta_pp']:+.2f} pp)" for variant, row in worse]
    elif any(v["jitter"] for v in result["variants"].values()):
        reasons.append("face-box jitter table: no row worse than the shipped model's" if not rule.jitter_tolerance_pp
                       else f"face-box jitter table: no row more than {rule.jitter_tolerance_pp:g} pp below the "
                       "shipped model's")
    for variant, v in result["variants"].items():
        crops = v.get("crops")
        if not crops or crops["shipped"]["acc_calibrated"] is None or crops["candidate"]["acc_calibrated"] is None:
            continue
        s_acc, c_acc = crops["shipped"]["acc_calibrated"], crops["candidate"]["acc_calibrated"]
        delta = 100 * (c_acc - s_acc)
        text = (f"{variant}: {100 * c_acc:.2f}% on the detector's calibrated crops against the shipped "
                f"{100 * s_acc:.2f}% ({delta:+.2f} pp{_difference_note(crops.get('difference'))})")
        if delta < -rule.crop_tolerance_pp:
            ship = False
            reasons.append(f"{text}: worse where the camera meets faces")
        else:
            reasons.append(text)
    for variant, v in result["variants"].items():
        cost = v.get("cost")
        if not cost:
            continue
        share = cost.get("classifier_share")
        share_text = "" if share is None else f", {100 * share:.0f}% of detection + classification"
        if cost["ratio"] > rule.max_cost_ratio:
            ship = False
            reasons.append(f"{variant}: the candidate's classifier costs {cost['ratio']:.2f}x the shipped one's, more "
                           f"than the {rule.max_cost_ratio:g}x allowed")
        elif share is not None and share >= rule.max_classifier_share and cost["ratio"] > rule.same_cost_ratio:
            ship = False
            reasons.append(f"{variant}: the candidate's classifier takes {100 * share:.0f}% of detection + "
                           f"classification, not under {100 * rule.max_classifier_share:.0f}%")
        else:
            same = share is not None and share >= rule.max_classifier_share
            reasons.append(f"{variant}: classifier cost {cost['ratio']:.2f}x the shipped one's{share_text}"
                           + (f" (the shipped network's cost, within {rule.same_cost_ratio:g}x: its share is the "
                              "shipped model's own)" if same else ""))
    size = result.get("size")
    if size:
        text = (f"the models would weigh {size['projected_mib']:.1f} MiB together with the candidate's "
                f"({size['shipped_mib']:.1f} MiB now)")
        if size["projected_mib"] >= rule.max_models_mib:
            ship = False
            reasons.append(f"{text}: not under the {rule.max_models_mib:g} MiB allowed")
        else:
            reasons.append(text)
    return {"ship": ship, "reasons": reasons}


def _camera(crops: dict | None, rule: ShipRule, reasons: list[str]) -> bool:
    """``rule``'s camera checks on the headline variant's crop rows (:data:`CAMERA_RULE`), a reason for each."""
    if not crops or crops["shipped"]["acc_calibrated"] is None or crops["candidate"]["acc_calibrated"] is None:
        reasons.append(f"{rule.variant}: no calibrated crops scored (--detector none?): the camera rule cannot judge")
        return False
    ok = True
    delta = 100 * (crops["candidate"]["acc_calibrated"] - crops["shipped"]["acc_calibrated"])
    if delta < rule.min_crop_gain_pp:
        ok = False
        reasons.append(f"{rule.variant}: {delta:+.2f} pp on the calibrated crops: less than the "
                       f"{rule.min_crop_gain_pp:g} pp a model for the camera needs")
    else:
        reasons.append(f"{rule.variant}: {delta:+.2f} pp on the calibrated crops (at least {rule.min_crop_gain_pp:g} "
                       "pp needed)")
    if rule.max_shortfall_pp is not None:
        shortfall = -crops["candidate"]["calibrated_minus_dataset_pp"]
        within = shortfall <= rule.max_shortfall_pp
        ok = ok and within
        reasons.append(f"{rule.variant}: its calibrated crops {shortfall:.2f} pp below its dataset crops of the same "
                       f"faces: {'within' if within else 'not within'} the {rule.max_shortfall_pp:g} pp allowed")
    return ok


def _faithful(result: dict, rule: ShipRule, reasons: list[str]) -> bool:
    """:data:`CONVERSION_RULE`'s first test, each variant's reason appended: the candidate's quantised model agrees
    with its float32 more often than the shipped one with its own, and stays within ``band_pp`` of it."""
    ok = True
    for variant, v in result["variants"].items():
        q, s = v.get("quantisation"), v.get("shipped_quantisation")
        if q is None or s is None:
            ok = False
            reasons.append(f"{variant}: no float32 model in both folders to judge the conversion by")
            continue
        text = (f"{variant}: agreement with its float32 {q['agreement_pct']:.2f}% against the shipped "
                f"{s['agreement_pct']:.2f}%, {q['delta_pp']:+.2f} pp from it")
        if q["agreement_pct"] <= s["agreement_pct"]:
            ok = False
            reasons.append(f"{text}: not more faithful than the shipped conversion")
        elif q["abs_delta_pp"] > rule.band_pp:
            ok = False
            reasons.append(f"{text}: outside the {rule.band_pp:g} pp band")
        else:
            reasons.append(text)
    return ok


def same_float_models(shipped: ModelSet, candidate: ModelSet, variants: list[str], x: np.ndarray,
                      predict: Callable | None = None) -> bool:
    """Whether the candidate's float32 model of every variant is the shipped one: the same scores, within
    :data:`SAME_FLOAT_ATOL`, on the evaluation faces ``x`` (a conversion of the same checkpoints, judged by
    :data:`CONVERSION_RULE`; the converter need not write the same bytes on another machine). ``predict``: how a
    model scores ``x`` (default :func:`benchmarks.accuracy.tflite_predict`)."""
    from benchmarks.accuracy import tflite_predict

    tflite_predict = predict or tflite_predict
    pairs = [(shipped.get(v, REFERENCE_FORMAT), candidate.get(v, REFERENCE_FORMAT)) for v in variants]
    if not pairs or any(a is None or b is None for a, b in pairs):
        return False
    return all(float(np.abs(tflite_predict(a, x) - tflite_predict(b, x)).max()) <= SAME_FLOAT_ATOL for a, b in pairs)


def projected_size(shipped_dir: Path, candidate_dir: Path, fmt: str) -> dict:
    """What the shipped models folder would weigh with the candidate's models in it (MiB, model files only, every
    format in the folder, whichever were compared): each shipped file is replaced by the candidate's of the same
    variant and format; a format the candidate folder lacks (compare needs only ``fmt`` and float32) is scaled by the
    ratio of the variant's ``fmt`` files, and a variant it lacks by the ratio of the first variant it has (the rule
    ships both variants of one recipe together)."""
    shipped, candidate = ({key: path.stat().st_size for key, path in model_files(folder).items()}
                          for folder in (shipped_dir, candidate_dir))
    ratios = {v: size / shipped[(v, f)] for (v, f), size in candidate.items() if f == fmt and shipped.get((v, f))}
    if not ratios:
        raise BenchError(f"{shipped_dir} and {candidate_dir}: no variant with a {fmt} model in both")
    fallback = next(iter(ratios.values()))
    total = sum(candidate.get(key, size * ratios.get(key[0], fallback)) for key, size in shipped.items())
    mib = 1024.0 * 1024.0
    return {"shipped_mib": sum(shipped.values()) / mib, "projected_mib": total / mib, "ratio": ratios}


def paired_gain(y: np.ndarray, shipped: np.ndarray, candidate: np.ndarray) -> dict:
    """Candidate - shipped on the same faces: the accuracy difference and its 95% interval, in pp."""
    right_s, right_c = shipped.argmax(1) == y, candidate.argmax(1) == y
    return {"gain_pp": 100.0 * float(right_c.mean() - right_s.mean()),
            "gain_ci_pp": paired_interval_pp(right_c, right_s),
            "only_candidate_right": int((right_c & ~right_s).sum()),
            "only_shipped_right": int((right_s & ~right_c).sum())}


def _summary(y: np.ndarray, probs: np.ndarray, model: ModelFile) -> dict:
    m = classification_metrics(y, probs)
    training = model.manifest.get("training", {}) if isinstance(model.manifest.get("training"), dict) else {}
    return {"file": shown(model.path), "views": 2 if model.mirror_in_graph else 1,
            "checkpoint": model.manifest.get("checkpoint"), "recipe": training.get("recipe"),
            "accuracy": m["accuracy"], "balanced_accuracy": m["balanced_accuracy"], "macro_f1": m["macro_f1"]}


def _jitter_rows(shipped: ModelFile | None, candidate: ModelFile | None, x: np.ndarray, y: np.ndarray,
                 base: tuple[float, float]) -> list[dict]:
    """Both models' :func:`benchmarks.accuracy.jitter_accuracy` rows, paired by jitter."""
    from benchmarks.accuracy import jitter_accuracy

    if shipped is None or candidate is None:
        return []
    rows = []
    for s_row, c_row in zip(jitter_accuracy(shipped, x, y, base[0]), jitter_accuracy(candidate, x, y, base[1]),
                            strict=True):
        acc_s, acc_c = s_row["accuracy"], c_row["accuracy"]
        rows.append({"jitter": s_row["jitter"], "shipped": acc_s, "candidate": acc_c,
                     "delta_pp": 100.0 * (acc_c - acc_s), "shipped_change_pp": s_row["delta_pp"],
                     "candidate_change_pp": c_row["delta_pp"]})
    return rows


def _quantisation(candidate: ModelSet, variant: str, fmt: str, probs: np.ndarray, x: np.ndarray,
                  y: np.ndarray, predict: Callable | None = None) -> dict | None:
    from benchmarks.accuracy import tflite_predict

    tflite_predict = predict or tflite_predict

    reference = candidate.get(variant, REFERENCE_FORMAT)
    if reference is None or fmt == REFERENCE_FORMAT:
        return None
    ref = tflite_predict(reference, x)
    delta = 100.0 * float((probs.argmax(1) == y).mean() - (ref.argmax(1) == y).mean())
    agreement = top1_agreement(probs, ref)
    clear = agreement["agreement_clear"]
    return {"float32_accuracy": float((ref.argmax(1) == y).mean()), "delta_pp": delta, "abs_delta_pp": abs(delta),
            "agreement_pct": 100.0 * agreement["agreement"],
            "agreement_clear_pct": None if clear is None else 100.0 * clear,
            "near_tie_pct": 100.0 * agreement["near_tie_share"]}


@dataclass
class TimedDetector:
    """A face detector (:class:`device.detector.FaceDetector`) that keeps how long each call took, in ms."""

    inner: object
    ms: list[float] = field(default_factory=list)

    def detect(self, gray: np.ndarray, bgr: np.ndarray | None = None) -> list:
        start = time.perf_counter_ns()
        boxes = self.inner.detect(gray, bgr)
        self.ms.append((time.perf_counter_ns() - start) / 1e6)
        return boxes


@dataclass
class _DetectedCrops:
    """One detector's crops of the evaluation faces placed on canvases, detected once and scored per model."""

    detector: str
    tallies: dict
    framings: dict
    faces: np.ndarray
    labels: np.ndarray
    detect_ms: list[float] = field(default_factory=list)  # each canvas's detection (1 thread)

    def score(self, model: ModelFile) -> dict:
        """The camera benchmark's crop-accuracy row of ``model`` on these crops."""
        from benchmarks.crops import score_crops
        from device.classifier import ClassifierOptions, EmotionClassifier

        classifier = EmotionClassifier(ClassifierOptions(model.path, 1))
        rows, crops = score_crops(self.tallies, self.framings, classifier.predict_proba, self.faces, self.labels)
        row = rows[self.detector]
        found, _, predicted = crops[self.detector]  # the labels score_crops predicted on the calibrated crops
        labels = np.asarray(self.labels).reshape(-1)
        return {**{k: row[k] for k in ("placed", "found", "faces_found", "acc_dataset", "acc_calibrated",
                                       "calibrated_minus_dataset_pp", "shortfall_ci_pp")},
                "found_faces": list(found), "calibrated_right": [p == labels[i] for i, p in zip(found, predicted,
                                                                                                 strict=True)]}


def crop_difference(shipped: dict, candidate: dict) -> dict:
    """Candidate - shipped accuracy on the same calibrated crops (rows of :meth:`_DetectedCrops.score`, which name
    each found placement's face and whether its crop was labelled right), in pp, with the 95% interval that takes
    each face as one unit (:func:`benchmarks.crops.shortfall_interval_pp`); the per-placement lists are taken out of
    both rows, which the report keeps."""
    from benchmarks.crops import shortfall_interval_pp

    found, s_right = shipped.pop("found_faces"), shipped.pop("calibrated_right")
    if candidate.pop("found_faces") != found:
        raise BenchError("the two models' crop rows are not of the same placements")
    c_right = candidate.pop("calibrated_right")
    delta = 100.0 * (float(np.mean(c_right)) - float(np.mean(s_right))) if found else None
    return {"delta_pp": delta, "ci_pp": shortfall_interval_pp(found, c_right, s_right),
            "only_candidate_right": int(sum(c and not r for c, r in zip(c_right, s_right, strict=True))),
            "only_shipped_right": int(sum(r and not c for c, r in zip(c_right, s_right, strict=True)))}


def _detect(detector: str, x: np.ndarray, y: np.ndarray, crop_faces: int | None, seed: int, progress: bool,
            detector_model: Path | None = None, crop_placements: int = 1) -> _DetectedCrops:
    """``detector`` on the camera benchmark's canvases (same faces, seed and boxes, when ``crop_placements`` is 1;
    more canvases a face draw others), once for every model."""
    from benchmarks.camera import detector_framings, make_detectors
    from benchmarks.crops import SEED_OFFSET, detect_crops, placements

    timed = {name: TimedDetector(d) for name, d in make_detectors([detector], detector_model).items()}
    framings = detector_framings([detector])
    count, placed = placements(x, crop_faces, seed + SEED_OFFSET, crop_placements)
    tallies = detect_crops(timed, framings, placed, count, progress)
    return _DetectedCrops(detector, tallies, framings, x.reshape(-1, INPUT_SIZE, INPUT_SIZE, 1), y,
                          timed[detector].ms)


def classifier_cost(shipped: ModelFile, candidate: ModelFile, faces: np.ndarray, detect_ms: list[float] | None = None,
                    timing: LatencySettings = COST_TIMING, rounds: int = COST_ROUNDS) -> dict:
    """Median microseconds per face of both models (1 thread, the views each has in its graph), timed in ``rounds``
    that alternate the two; the ratio candidate / shipped; with detection times, the candidate's share of the
    median detection plus its own classification (one face a frame)."""
    from device.classifier import ClassifierOptions, EmotionClassifier

    sample = sample_faces(faces)
    classifiers = {side: EmotionClassifier(ClassifierOptions(m.path, 1))
                   for side, m in (("shipped", shipped), ("candidate", candidate))}
    samples: dict[str, list[float]] = {side: [] for side in classifiers}
    for _ in range(rounds):
        for side, classifier in classifiers.items():
            samples[side] += time_classifier(classifier, sample, timing)
    us = {side: float(np.median(v)) for side, v in samples.items()}
    out = {"shipped_us": us["shipped"], "candidate_us": us["candidate"], "ratio": us["candidate"] / us["shipped"],
           "calls": {side: len(v) for side, v in samples.items()}, "detect_ms": None, "classifier_share": None}
    if detect_ms:
        det = float(np.median(detect_ms))
        out["detect_ms"] = det
        out["classifier_share"] = us["candidate"] / 1000 / (det + us["candidate"] / 1000)
    return out


def compare(shipped: ModelSet, candidate: ModelSet, x: np.ndarray, y: np.ndarray, fmt: str = "int8",
            detector: str | None = "blazeface", crop_faces: int | None = None, seed: int = 0,
            progress: bool = True, detector_model: Path | None = None, cost_rounds: int = COST_ROUNDS,
            crop_placements: int = 1, rule: str = "auto") -> dict:
    """Every measurement of the module docstring; ``variants`` keyed by variant (those in both folders).
    ``cost_rounds`` 0: the device cost is not timed (nor judged). ``crop_placements``: canvases each evaluation face
    is placed on for the crop part (more: a tighter shortfall interval; the faces stay the unit). ``rule``: the rule
    to judge by, by name (:data:`ASKED_RULES`; ``auto``: :func:`rule_for` picks)."""
    _checked_rule(rule)  # before any scoring
    from benchmarks.accuracy import JITTER_FORMAT, tflite_predict

    variants = [v for v in shipped.variants if shipped.get(v, fmt) and candidate.get(v, fmt)]
    if not variants:
        raise BenchError(f"{shipped.models_dir} and {candidate.models_dir}: no variant with a {fmt} model in both")
    result: dict = {"format": fmt, "faces": int(len(y)), "detector": detector, "crop_placements": crop_placements,
                    "variants": {}}
    scored: dict[Path, np.ndarray] = {}  # each float32 model scores the faces once (quantisation and same_float_models)

    def float_predict(model: ModelFile, faces: np.ndarray) -> np.ndarray:
        if model.path not in scored:
            scored[model.path] = tflite_predict(model, faces)
        return scored[model.path]

    detected = (_detect(detector, x, y, crop_faces, seed, progress, detector_model, crop_placements)
                if detector else None)
    for variant in variants:
        s_model, c_model = shipped.get(variant, fmt), candidate.get(variant, fmt)
        note(f"compare {variant}: {s_model.path} against {c_model.path}", progress)
        s_probs, c_probs = tflite_predict(s_model, x), tflite_predict(c_model, x)
        s_sum, c_sum = _summary(y, s_probs, s_model), _summary(y, c_probs, c_model)
        if fmt == JITTER_FORMAT:
            base = (s_sum["accuracy"], c_sum["accuracy"])
            jitter_rows = _jitter_rows(s_model, c_model, x, y, base)
        else:
            s_j, c_j = shipped.get(variant, JITTER_FORMAT), candidate.get(variant, JITTER_FORMAT)
            base = tuple(float((tflite_predict(m, x).argmax(1) == y).mean()) for m in (s_j, c_j) if m is not None)
            jitter_rows = _jitter_rows(s_j, c_j, x, y, base) if len(base) == 2 else []
        entry = {"shipped": s_sum, "candidate": c_sum, **paired_gain(y, s_probs, c_probs), "jitter": jitter_rows,
                 "quantisation": _quantisation(candidate, variant, fmt, c_probs, x, y, float_predict),
                 "shipped_quantisation": _quantisation(shipped, variant, fmt, s_probs, x, y, float_predict)}
        if detected is not None:
            s_row, c_row = detected.score(s_model), detected.score(c_model)
            entry["crops"] = {"shipped": s_row, "candidate": c_row, "difference": crop_difference(s_row, c_row)}
        if cost_rounds:
            note(f"compare {variant}: timing both classifiers ({cost_rounds} rounds)", progress)
            entry["cost"] = classifier_cost(s_model, c_model, x, detected.detect_ms if detected else None,
                                            rounds=cost_rounds)
        result["variants"][variant] = entry
    result["size"] = projected_size(shipped.models_dir, candidate.models_dir, fmt)
    result["targets"] = check_targets(result)
    same = {v: same_float_models(shipped, candidate, [v], x, float_predict) for v in variants}
    result["same_float_models"] = all(same.values())
    result["same_float_by_variant"] = same
    result["rule"], ship_rule = rule_for(same, rule)
    result["decision"] = decide(result, ship_rule)
    return result


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _interval(ci: list[float] | None) -> str:
    return "-" if ci is None else f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"


def _discordant(difference: dict) -> str:
    """The faces only one model labels right, from :func:`crop_difference`."""
    return (f"right only with the candidate {difference['only_candidate_right']}, only with the shipped model "
            f"{difference['only_shipped_right']}")


def _difference_note(difference: dict | None) -> str:
    """", 95% interval a to b; right only with ..." for a decision line (nothing for a result written before the
    paired difference was kept)."""
    if not difference or difference.get("ci_pp") is None:
        return ""
    low, high = difference["ci_pp"]
    return f", 95% interval {low:+.2f} to {high:+.2f}; {_discordant(difference)}"


def render(result: dict, meta: dict) -> str:
    decision = result["decision"]
    rule, intro = RULES[result.get("rule", "student")]
    rule_text = intro + rule.describe().format(fmt=result["format"])
    lines = [
        "# Candidate against the shipped models",
        "",
        f"`{meta['command']}` on {meta['machine']}, {meta['date']}. {result['faces']} faces of the "
        f"**{meta['split']}** split of `{meta['data']}`; {result['format']} models as the device runs them "
        "(the views each has in its graph). Figures in %, differences in pp with paired 95% intervals (the faces "
        "are the unit).",
        "",
        f"**Decision: {'ship the candidate' if decision['ship'] else 'keep the shipped models'}** ({rule_text}).",
        "",
        *[f"- {reason}" for reason in decision["reasons"]],
        "",
    ]
    for text in meta.get("notes", []):
        lines += [f"Note: {text}", ""]
    lines += ["| variant | shipped | candidate | gain | 95% interval | balanced acc. shipped / candidate | macro-F1 "
              "shipped / candidate |", "|---|---|---|---|---|---|---|"]
    for variant, v in result["variants"].items():
        s, c = v["shipped"], v["candidate"]
        lines.append(f"| {variant} | {_pct(s['accuracy'])} | {_pct(c['accuracy'])} | {v['gain_pp']:+.2f} | "
                     f"{_interval(v['gain_ci_pp'])} | {_pct(s['balanced_accuracy'])} / "
                     f"{_pct(c['balanced_accuracy'])} | {_pct(s['macro_f1'])} / {_pct(c['macro_f1'])} |")
    lines += ["", "Models: " + "; ".join(
        f"{variant}: shipped `{v['shipped']['file']}` ({v['shipped']['recipe'] or 'recipe not recorded'}), "
        f"candidate `{v['candidate']['file']}` ({v['candidate']['recipe'] or 'recipe not recorded'})"
        for variant, v in result["variants"].items()), ""]
    if any(v["jitter"] for v in result["variants"].values()):
        lines += ["## Face-box jitter (int8)", "", "| variant | jitter | shipped | candidate | candidate - shipped |",
                  "|---|---|---|---|---|"]
        for variant, v in result["variants"].items():
            lines += [f"| {variant} | {r['jitter']} | {_pct(r['shipped'])} | {_pct(r['candidate'])} | "
                      f"{r['delta_pp']:+.2f} |" for r in v["jitter"]]
        lines.append("")
    if result["detector"]:
        lines += [f"## Camera path: {result['detector']} crops against dataset crops", "",
                  "Evaluation faces placed on canvases as `python -m benchmarks run --parts camera` places them "
                  "(same seed), detected, cropped with the calibrated framing; the faces found, both crops scored."
                  + ("" if result.get("crop_placements", 1) == 1 else
                     f" Each face on {result['crop_placements']} canvases (other sizes, positions and backgrounds; "
                     "so not the benchmark's own canvases): found / placed counts canvases, the interval takes "
                     "each face as one unit."),
                  "", "| variant | model | found / placed | dataset crops | calibrated crops | shortfall | 95% "
                  "interval |", "|---|---|---|---|---|---|---|"]
        differences = []
        for variant, v in result["variants"].items():
            crops = v.get("crops", {})
            for side, row in ((side, crops[side]) for side in ("shipped", "candidate") if side in crops):
                diff = row["calibrated_minus_dataset_pp"]
                ci = row["shortfall_ci_pp"]
                lines.append(f"| {variant} | {side} | {row['found']} / {row['placed']} | {_pct(row['acc_dataset'])} | "
                             f"{_pct(row['acc_calibrated'])} | {'-' if diff is None else f'{-diff:.2f}'} | "
                             f"{_interval(ci)} |")
            if (d := crops.get("difference")) and d.get("delta_pp") is not None:
                differences.append(f"{variant} {d['delta_pp']:+.2f} pp {_interval(d['ci_pp'])} ({_discordant(d)})")
        lines.append("")
        if differences:
            lines += ["Candidate - shipped on the same calibrated crops, with its 95% interval (each face one unit): "
                      + "; ".join(differences) + ".", ""]
    costs = {variant: v["cost"] for variant, v in result["variants"].items() if v.get("cost")}
    if costs:
        lines += ["## Cost on the device (1 thread, this run)", "",
                  "Microseconds per face (median; the views each model has in its graph), timed in alternating rounds; "
                  "the candidate's share of the median detection on the placed canvases plus its classification.", "",
                  "| variant | shipped us | candidate us | ratio | detection ms | candidate's share |",
                  "|---|---|---|---|---|---|"]
        for variant, c in costs.items():
            det = "-" if c["detect_ms"] is None else f"{c['detect_ms']:.2f}"
            share = "-" if c["classifier_share"] is None else f"{100 * c['classifier_share']:.1f}%"
            lines.append(f"| {variant} | {c['shipped_us']:.0f} | {c['candidate_us']:.0f} | {c['ratio']:.2f}x | "
                         f"{det} | {share} |")
        lines.append("")
    quant = {variant: v["quantisation"] for variant, v in result["variants"].items() if v.get("quantisation")}
    if quant:
        lines += [f"## Quantisation (candidate): {result['format']} against its float32 model", "",
                  "C" + near_tie_note("float32")[1:] + ".", "",
                  f"| variant | float32 | {result['format']} - float32 | agreement | clear agreement | near ties | "
                  "shipped: agreement with its float32 |",
                  "|---|---|---|---|---|---|---|"]
        for variant, q in quant.items():
            clear = q.get("agreement_clear_pct")
            shipped_q = result["variants"][variant].get("shipped_quantisation")
            lines.append(f"| {variant} | {_pct(q['float32_accuracy'])} | {q['delta_pp']:+.2f} | "
                         f"{q['agreement_pct']:.2f} | {'-' if clear is None else f'{clear:.2f}'} | "
                         f"{q['near_tie_pct']:.1f}% | "
                         f"{'-' if shipped_q is None else format(shipped_q['agreement_pct'], '.2f')} |")
        lines.append("")
    size = result.get("size")
    if size:
        ratios = ", ".join(f"{variant} {ratio:.2f}x" for variant, ratio in size["ratio"].items())
        lines += ["## Size", "", f"The shipped model files weigh {size['shipped_mib']:.2f} MiB together; with the "
                  f"candidate's in their place {size['projected_mib']:.2f} MiB (the candidate's {result['format']} "
                  f"files against the shipped ones: {ratios}; a format or variant the candidate folder lacks is "
                  "scaled by that ratio).", ""]
    lines += ["## Targets (candidate)", "", "| target | value | threshold | met |", "|---|---|---|---|"]
    for t in result["targets"]:
        value = "-" if t["value"] is None else f"{t['value']:.2f}"
        met = "-" if t["met"] is None else ("yes" if t["met"] else "no")
        lines.append(f"| {t['target']} | {value} | {'>=' if t['at_least'] else '<='} {t['threshold']} | {met} |")
    lines.append("")
    return "\n".join(lines)


def write(result: dict, out: Path, meta: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "compare.json", {**meta, **result})
    return atomic_write_text(out / "compare.md", render(result, meta))
