"""``report.md``, ``results.json`` and plots from one benchmark run's results (see ``runner.py``)."""

from __future__ import annotations

import io
from pathlib import Path

from core.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text
from core.formats import FORMATS_BY_NAME, REFERENCE_FORMAT
from core.labels import EMOTIONS
from core.metrics import near_tie_note

STAGE_ORDER: tuple[str, ...] = ("capture", "detect", "preprocess", "classify", "smooth", "draw")
PLOTS: dict[str, str] = {
    "accuracy_vs_latency": "accuracy_vs_latency.png",
    "per_class_recall": "per_class_recall.png",
    "pipeline_stages": "pipeline_stages.png",
    "latency_threads": "latency_threads.png",
}
MISSING = "–"


def _f(value: float | None, digits: int = 1, scale: float = 1.0, sign: bool = False) -> str:
    if value is None:
        return MISSING
    text = f"{value * scale:+.{digits}f}" if sign else f"{value * scale:.{digits}f}"
    return text


def _interval(bounds: list[float] | None, digits: int = 1) -> str:
    """[lo, hi] in % as 'lo-hi', or the missing mark."""
    return f"{bounds[0]:.{digits}f}-{bounds[1]:.{digits}f}" if bounds else MISSING


def _signed_interval(bounds: list[float] | None, digits: int = 1) -> str:
    """[lo, hi] of a difference as '+lo to +hi', or the missing mark."""
    return f"{bounds[0]:+.{digits}f} to {bounds[1]:+.{digits}f}" if bounds else MISSING


def _same_faces_sentence(same: dict | None) -> str:
    """' The same faces on their dataset crops: ...' for a pipeline row's ``same_faces`` ('' without)."""
    if not same:
        return ""
    ci = same.get("clip_minus_dataset_ci_pp")
    return (f" The same faces on their dataset crops, same model: {_pct(same['acc_dataset'])}% (clip - dataset "
            f"{same['clip_minus_dataset_pp']:+.1f} pp" + (f", 95% interval {_signed_interval(ci)}" if ci else "")
            + f", over {same['faces']} faces; the clip's faces are drawn class-balanced, so these crops, not the "
            "split's accuracy, are its yardstick).")


def _pct(value: float | None, digits: int = 1) -> str:
    return _f(value, digits, 100.0)


def _kb(size: int | None) -> str:
    return MISSING if size is None else f"{size / 1024:.1f}"


def _table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> list[str]:
    align = align or ["---"] + ["--:"] * (len(header) - 1)
    return ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"] + ["| " + " | ".join(r) + " |" for r in rows]


def latency_at(results: dict, variant: str, fmt: str, threads: int = 1) -> dict | None:
    return next((r for r in results["latency"]["rows"]
                 if r["variant"] == variant and r["format"] == fmt and r["threads"] == threads), None)


def _ref_label(kind: str) -> str:
    return {"keras": "Keras float model", "float32": "float32 TFLite model", "none": "none"}.get(kind, kind)


# ---------------------------------------------------------------- summary


def summary_lines(results: dict) -> list[str]:
    lines: list[str] = []
    lat = [r for r in results["latency"]["rows"] if r["threads"] == 1 and r["median_us"]]
    if lat:
        best = min(lat, key=lambda r: r["median_us"])
        speed = best.get("speedup_vs_float32")
        vs = f", {speed:.2f}x the speed of float32" if speed and best["format"] != REFERENCE_FORMAT else ""
        lines.append(f"**Fastest format here: {best['format']}** ({best['variant']}): "
                     f"{best['median_us']:.0f} µs per face at 1 thread (median){vs}.")
        top = max(r["threads"] for r in results["latency"]["rows"])
        multi = [r for r in results["latency"]["rows"] if r["threads"] == top and r["median_us"]]
        if top > 1 and multi:
            fast = min(multi, key=lambda r: r["median_us"])
            gain = best["median_us"] / fast["median_us"]
            verdict = f"{gain:.2f}x faster than 1 thread" if gain > 1.0 else "no faster than 1 thread"
            lines.append(f"With {top} threads the fastest is {fast['format']} ({fast['variant']}): "
                         f"{fast['median_us']:.0f} µs per face, {verdict}.")
    acc = results["accuracy"]
    used = results["reference"]["used"]
    if used:
        by_kind: dict[str, list[str]] = {}
        for r in used:
            by_kind.setdefault(r["kind"], []).append(r["variant"])
        kinds = "; ".join(f"{_ref_label(k)} ({', '.join(v)})" for k, v in by_kind.items())
        why = "; ".join(dict.fromkeys(n for r in used for n in r["notes"]))
        lines.append(f"Float reference: {kinds}" + (f". Why: {why}" if why else "") + ".")
    if acc.get("skipped"):
        lines.append(f"Accuracy: skipped ({acc['skipped']}).")
    else:
        for variant in dict.fromkeys(r["variant"] for r in acc["rows"]):
            ref = next((r for r in acc["rows"] if r["variant"] == variant and r["is_reference"]), None)
            int8 = next((r for r in acc["rows"] if r["variant"] == variant and r["format"] == "int8"), None)
            if ref and int8:
                delta = int8["accuracy_delta_pp"]
                cost = f"{-delta:.2f} pp" if delta < 0 else f"none ({delta:+.2f} pp)"
                lines.append(
                    f"**Accuracy cost of int8 vs the reference ({_ref_label(ref['reference'])}), {variant}: {cost}** "
                    f"({100 * int8['accuracy']:.2f}% vs {100 * ref['accuracy']:.2f}% on {int8['n']} {acc['split']} "
                    f"faces; top-1 agreement {_pct(int8['agreement'])}%)."
                )
                if int8.get("mirror_in_graph"):
                    lines.append(
                        f"The {variant} models classify each face and its mirror image in one batch and average the "
                        "scores inside the graph (`python -m convert --mirror`, the default): the accuracies are "
                        "with mirroring, and each classifier latency is one interpreter run of two faces."
                    )
                elif int8.get("accuracy_mirrored") is not None:
                    lines.append(
                        f"With mirror averaging (`--mirror-average`, two interpreter runs per face) {variant} int8 "
                        f"scores {_pct(int8['accuracy_mirrored'], 2)}% ({int8['mirror_gain_pp']:+.2f} pp)."
                    )
            elif ref:
                lines.append(f"{variant}: reference accuracy {100 * ref['accuracy']:.2f}% (no int8 model to compare).")
    pipe = results["pipeline"]
    if pipe.get("skipped"):
        lines.append(f"Pipeline: skipped ({pipe['skipped']}).")
    else:
        ok = [r for r in pipe["rows"] if "error" not in r and r.get("fps")]
        if ok:
            best = max(ok, key=lambda r: r["fps"])
            stages = best["stages_ms"]
            heaviest = max(STAGE_ORDER, key=lambda s: stages[s]["median"] or 0.0)
            lines.append(
                f"**Pipeline: {best['fps']:.1f} frames per second end to end** with {best['variant']}/{best['format']} "
                f"on {pipe['source']['width']}x{pipe['source']['height']} frames "
                f"(median {best['frame_ms']['median']:.1f} ms per frame, {heaviest} is the largest stage); "
                f"first result {best['startup_ms']['total'] / 1000:.2f} s after start, "
                f"peak RSS {best['peak_rss_mib']:.0f} MiB."
            )
            e2e = best.get("end_to_end")
            if e2e and e2e["gt_faces"] and e2e["found"]:
                lines.append(
                    f"End to end on the labelled clip: the detector found {_pct(e2e['detection_recall'])}% of the "
                    f"{e2e['gt_faces']} faces, and {_pct(e2e['label_accuracy_found'])}% of the found faces got the "
                    f"right label ({_pct(e2e['label_accuracy_all'])}% of all faces)"
                    + (f"; 95% interval {_interval(e2e['label_accuracy_found_ci_pp'])} over the "
                       f"{e2e['faces_found']} placed faces found." if e2e.get("label_accuracy_found_ci_pp") else ".")
                    + _same_faces_sentence(best.get("same_faces"))
                )
            elif e2e and e2e["gt_faces"]:
                lines.append(f"End to end on the labelled clip: the detector found none of the {e2e['gt_faces']} "
                             "faces.")
        for row in pipe["rows"]:
            if "error" in row:
                lines.append(f"Pipeline {row['variant']}/{row['format']} failed: {row['error']}.")
    lines += camera_summary(results.get("camera") or {})
    if results["missing_models"]:
        lines.append(f"Missing models (not measured): {', '.join(results['missing_models'])}.")
    if results.get("quick"):
        lines.append("**Quick mode**: few runs, frames and faces; numbers are indicative only.")
    return lines


# ---------------------------------------------------------------- sections


def accuracy_section(results: dict) -> list[str]:
    acc = results["accuracy"]
    out = ["## Accuracy", ""]
    if acc.get("skipped"):
        return out + [f"Skipped: {acc['skipped']}.", ""]
    refs = results["reference"]["used"]
    out += [
        f"Data: `{acc['data']}`, **{acc['split']}** split, {acc['n']} faces"
        + (f" (of {acc['total']})" if acc["total"] != acc["n"] else "") + ".",
        "Reference per variant: " + "; ".join(f"{r['variant']}: {_ref_label(r['kind'])} (`{r['source']}`)"
                                              for r in refs) + ".",
        "Accuracy and macro-F1 in %; Δ: accuracy difference to the reference in percentage points; agreement: "
        "top-1 agreement with the reference in %; " + near_tie_note("reference") + " (in %); "
        "max Δp: largest absolute difference of a class probability; "
        "mirrored: accuracy in % with `--mirror-average` (each face and its mirror image classified, scores averaged: "
        "two interpreter runs per face) and its gain over the single pass in pp; \"in graph\": the model "
        "already does this itself (converted with `--mirror`), so its accuracy is the mirrored one.",
        "",
    ]
    rows = []
    for r in acc["rows"]:
        name = f"**{r['format']}** (reference)" if r["is_reference"] else r["format"]
        rows.append([r["variant"], name, _kb(r["size_bytes"]), _pct(r["accuracy"], 2),
                     _f(r["accuracy_delta_pp"], 2, sign=True), _pct(r["macro_f1"], 2),
                     _pct(r["balanced_accuracy"], 2), _pct(r["agreement"], 2), _pct(r.get("agreement_clear"), 2),
                     _pct(r.get("near_tie_share"), 1), _f(r["max_prob_diff"], 3),
                     "in graph" if r.get("mirror_in_graph") else _pct(r.get("accuracy_mirrored"), 2),
                     _f(r.get("mirror_gain_pp"), 2, sign=True)])
    out += _table(["variant", "model", "size KB", "accuracy", "Δ pp", "macro-F1", "balanced acc.", "agreement",
                   "clear agreement", "near ties %", "max Δp", "mirrored", "mirror gain pp"], rows,
                  ["---", "---"] + ["--:"] * 11)
    out += jitter_table(acc.get("jitter") or [])
    for metric in ("recall", "precision"):
        out += ["", f"Per-class {metric} in %:", ""]
        rows = [[r["variant"], r["format"] + (" (ref)" if r["is_reference"] else "")]
                + [_pct(r["per_class"][e][metric]) for e in EMOTIONS] for r in acc["rows"]]
        out += _table(["variant", "model", *EMOTIONS], rows, ["---", "---"] + ["--:"] * len(EMOTIONS))
    support = acc["rows"][0]["per_class"] if acc["rows"] else {}
    if support:
        out += ["", "Faces per class: " + ", ".join(f"{e} {support[e]['support']}" for e in EMOTIONS) + "."]
    return out + [""]


def jitter_table(rows: list[dict]) -> list[str]:
    """Accuracy with the face box moved or resized (``benchmarks.accuracy.JITTERS``), one row per model."""
    if not rows:
        return []
    names = list(dict.fromkeys(r["jitter"] for r in rows))
    out = ["", "Face-box jitter: accuracy in % (change in pp against the same model on the dataset's crops) when "
           "every face is resampled as if the detector's box were smaller, larger or shifted (OpenCV bilinear, border "
           "pixels repeated), a proxy for how a live detector's boxes differ from FER2013's crops:", ""]
    table = []
    for variant, fmt in dict.fromkeys((r["variant"], r["format"]) for r in rows):
        mine = {r["jitter"]: r for r in rows if r["variant"] == variant and r["format"] == fmt}
        base = next(iter(mine.values()))["base_accuracy"]
        table.append([variant, fmt, _pct(base, 2)]
                     + [f"{_pct(mine[n]['accuracy'], 2)} ({mine[n]['delta_pp']:+.2f})" if n in mine else MISSING
                        for n in names])
    aligns = ["---", "---"] + ["--:"] * (1 + len(names))
    return out + _table(["variant", "model", "crop as given", *names], table, aligns)


def latency_section(results: dict) -> list[str]:
    lat = results["latency"]
    if lat.get("skipped"):
        return ["## Classifier latency", "", f"Skipped: {lat['skipped']}.", ""]
    threads = lat["threads"]
    s = lat["settings"]
    out = [
        "## Classifier latency",
        "",
        f"One face per `predict_proba` call (the device's path: quantise, `invoke`, dequantise), microseconds, "
        f"median / p95 over at least {s['min_runs']} timed calls and {s['min_seconds']:g} s after {s['warmup']} "
        f"warm-up calls, for 1 to {threads[-1]} interpreter threads; speed-up: float32's median over this model's "
        "median at 1 thread."
        + (" Models marked (2 views) average each face and its mirror image in their graph: a call runs both."
           if any(m.get("mirror_in_graph") for m in results["models"]) else ""),
        "",
    ]
    two_views = {(m["variant"], m["format"]) for m in results["models"] if m.get("mirror_in_graph")}
    header = ["variant", "format", "size KB"] + [f"{t} thr median / p95" for t in threads] + ["speed-up vs float32"]
    sizes = {(m["variant"], m["format"]): m["size_bytes"] for m in results["models"]}
    rows = []
    for variant, fmt in dict.fromkeys((r["variant"], r["format"]) for r in lat["rows"]):
        cells = [variant, fmt + (" (2 views)" if (variant, fmt) in two_views else ""), _kb(sizes.get((variant, fmt)))]
        for t in threads:
            r = latency_at(results, variant, fmt, t)
            cells.append(f"{r['median_us']:.0f} / {r['p95_us']:.0f}" if r else MISSING)
        one = latency_at(results, variant, fmt, 1)
        speedup = one.get("speedup_vs_float32") if one else None
        cells.append(f"{speedup:.2f}x" if speedup else MISSING)
        rows.append(cells)
    out += _table(header, rows, ["---", "---"] + ["--:"] * (len(header) - 2))
    return out + [""]


def pipeline_section(results: dict) -> list[str]:
    pipe = results["pipeline"]
    out = ["## Whole pipeline", ""]
    if pipe.get("skipped"):
        return out + [f"Skipped: {pipe['skipped']}.", ""]
    src = pipe["source"]
    size = f"{src['width']}x{src['height']}" + (f", {src['fps']:g} fps" if src.get("fps") else "")
    where = (f"a clip generated from the data for this run ({size}; removed afterwards), made by "
             f"`{pipe['clip_command']}`" if pipe.get("clip_command") else f"`{src['source']}` ({size})")
    out += [
        f"Source: {where}.",
        "Each model runs in a fresh process: the demo's frame loop over the demo's pipeline (its default detector, "
        "BlazeFace short-range, with its calibrated framing; the time-based smoothing per face; `draw_results`, "
        "annotation only, no window), 1 interpreter thread. Per stage: median / p95 ms per frame; capture = "
        "`source.read()` (decode).",
        "",
    ]
    ok = [r for r in pipe["rows"] if "error" not in r]
    header = ["model", "frames", "FPS", *STAGE_ORDER, "frame total"]
    rows = []
    for r in ok:
        cells = [f"{r['variant']}/{r['format']}", str(r["frames"]), _f(r["fps"])]
        cells += [f"{_f(r['stages_ms'][s]['median'], 2)} / {_f(r['stages_ms'][s]['p95'], 2)}" for s in STAGE_ORDER]
        cells.append(f"{_f(r['frame_ms']['median'], 1)} / {_f(r['frame_ms']['p95'], 1)}")
        rows.append(cells)
    out += _table(header, rows, ["---"] + ["--:"] * (len(header) - 1))
    serving = pipe.get("serving")
    if serving:
        out += ["", "Serving the web view (`--serve`) adds, per frame while someone watches the video, the JPEG "
                f"encode of the annotated {serving['width']:.0f}x{serving['height']:.0f} frame at quality "
                f"{serving['quality']:.0f}: median {serving['median_ms']:.2f} ms, p95 {serving['p95_ms']:.2f} ms, "
                f"{serving['kib']:.0f} KiB a frame (`device.web.encode_cost`, one thread). Nothing is encoded while "
                "nobody watches."]
    out += ["", "Start-up and footprint (start = the worker process being spawned):", ""]
    rows = [[f"{r['variant']}/{r['format']}", _f(r["startup_ms"]["process_start_and_imports"], 0),
             _f(r["startup_ms"]["load_model_detector_source"], 0), _f(r["startup_ms"]["first_frame"], 0),
             _f(r["startup_ms"]["total"], 0), _f(r["peak_rss_mib"], 1)] for r in ok]
    out += _table(["model", "start + imports ms", "load model/detector/source ms", "first frame ms",
                   "start to first result ms", "peak RSS MiB"], rows)
    gt = pipe.get("ground_truth")
    out += ["", "### End-to-end accuracy", ""]
    if not gt:
        out += ["No ground truth (`clip.json` next to the clip): build a labelled clip with "
                "`python -m benchmarks clip --data DATA --out DIR` to get detection recall and label accuracy.", ""]
    else:
        rows = []
        for r in ok:
            e = r.get("end_to_end") or {}
            rows.append([f"{r['variant']}/{r['format']}", str(e.get("frames", MISSING)),
                         str(e.get("gt_faces", MISSING)),
                         _pct(e.get("detection_recall")), _f(e.get("false_detections_per_frame"), 3),
                         _pct(e.get("label_accuracy_found")), _interval(e.get("label_accuracy_found_ci_pp")),
                         str(e.get("faces_found", MISSING)), _pct((r.get("same_faces") or {}).get("acc_dataset")),
                         _signed_interval((r.get("same_faces") or {}).get("clip_minus_dataset_ci_pp")),
                         _pct(e.get("label_accuracy_all")),
                         f"{e.get('tracks_spanning_faces', MISSING)} / {e.get('tracks', MISSING)}"])
        out += [
            f"Ground truth: `{gt}`. A face is found when a detection overlaps it with IoU >= "
            f"{ok[0]['end_to_end']['iou_threshold'] if ok and ok[0].get('end_to_end') else 0.3}; correct when found "
            "and its (smoothed) label is the true one. Consecutive frames of the same placed face share a track, so "
            "smoothing averages a face over its own frames only; the last column counts tracks that covered more "
            "than one placed face (where smoothing could mix labels), of all tracks. \"faces\" counts face-frames; "
            "the interval of the label accuracy over the found ones treats the placed faces as the units (a face's "
            "frames share its look and, smoothed, its label: cluster-robust standard error, normal approximation), "
            "so it is as wide as the number of placed faces found allows. With `--data` (the split the clip was "
            "built from) the same found faces are scored again on their dataset crops by the same model, each "
            "weighted by its found frames: the clip draws its faces class-balanced, so that, not the split's "
            "accuracy, is what its accuracy compares with.",
            "",
        ]
        out += _table(["model", "frames", "faces", "found %", "false det./frame", "label acc. (found) %",
                       "95% interval", "placed faces found", "same faces, dataset crops %",
                       "clip - dataset pp, 95% interval", "label acc. (all) %", "tracks across faces"], rows)
        if pipe.get("clip_notes"):
            out += [""] + [f"- {n}" for n in pipe["clip_notes"]]
    for r in pipe["rows"]:
        if "error" in r:
            out += ["", f"**{r['variant']}/{r['format']} failed**: {r['error']}"]
    return out + [""]


def _ms_pair(stats: dict | None) -> str:
    if not stats or stats.get("median") is None:
        return MISSING
    return f"{stats['median']:.2f} / {stats['p95']:.2f}"


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return MISSING
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "pp":
        return f"{value:+.2f} pp"
    return f"{value:.2f} {unit}" if unit in ("ms", "s") else f"{value:.1f} {unit}"


def _met(met: bool | None) -> str:
    return "not measured" if met is None else ("**yes**" if met else "no")


def camera_summary(cam: dict) -> list[str]:
    """One summary line: how many of the camera path's targets are met, per detector."""
    if not cam or cam.get("skipped"):
        return [f"Camera path: skipped ({cam['skipped']})."] if cam.get("skipped") else []
    targets = cam.get("targets") or []
    parts = []
    for name in cam["detectors"]:
        mine = [t for t in targets if t["detector"] == name and t["met"] is not None]
        if mine:
            parts.append(f"{name} {sum(t['met'] for t in mine)} of {len(mine)}")
    rows = {r["detector"]: r for r in cam["rows"]}
    fast = [f"{n} {r['pipeline']['fps']:.0f} FPS" for n, r in rows.items()
            if (r.get("pipeline") or {}).get("fps")]
    text = "**Camera path**: targets met " + (", ".join(parts) if parts else "(none measured)")
    if fast:
        text += "; whole pipeline on real-content frames: " + ", ".join(fast)
    return [text + " (section Camera path)."]


def camera_section(results: dict) -> list[str]:
    cam = results.get("camera") or {"skipped": "not run"}
    out = ["## Camera path", ""]
    if cam.get("skipped"):
        return out + [f"Skipped: {cam['skipped']}.", ""]
    s = cam["settings"]
    model = cam["model"]
    real = cam["real_faces"]
    width, height = s["frame_size"]
    out += [
        f"Detectors compared: {', '.join(cam['detectors'])}. Model: `{model['file']}`"
        + (" (two views in its graph)" if model.get("mirror_in_graph") else "") + f"; frames {width}x{height}.",
        "",
        f"- **Detection** (the detector object alone, 1 thread: `cv2.setNumThreads(1)`, BlazeFace `num_threads=1`), "
        f"median / p95 ms per frame, on the labelled clip's frames and on real-content frames: {real['photos']} real "
        f"photos (`{real['folder']}`, {real['faces']} faces), {s['frames_per_photo']} frames each, every photo "
        "spanning 78-95% of the frame and panning 1-3 px and zooming 0.3% per frame over a still background. The "
        "detectors take turns over chunks of 30 frames, each after one untimed call. `blazeface` runs as the demo "
        "runs it: a second look at each face in a square twice its box, and between whole-frame searches (every "
        "8 frames, and when a face is lost) only that look; `blazeface:refine=0` is the one pass (MediaPipe's "
        "chain). On the crops, each canvas is searched whole. Real frames: found = "
        "min(detected, the photo's face count), false = the excess; \"face found\" = frames with a face in which "
        "one was found. Clip: a face is found at IoU >= 0.3.",
        "- **Crops** (evaluation faces placed as `python -m benchmarks calibrate` places training faces, another "
        "seed): found % of the placed faces; label accuracy of the found faces on their dataset crops (48x48 "
        "originals), the detector's calibrated crops, plain square crops (2% margin a side) and the placed face's "
        "own box cut from the canvas (no detector: what scaling the face up and the crop down again costs)."
        + ("" if s.get("crop_placements", 1) == 1 else
           f" Each face on {s['crop_placements']} canvases (`--crop-placements`): found % counts canvases, the "
           "shortfall's interval takes each face as one unit."),
        f"- **Steady**: the whole pipeline (the demo's smoothing) on {s['steady_photos']} one-face photo(s) held still "
        f"(<= 1.5 px jitter, sensor noise) for {s['steady_seconds']:g} s each at {s['fps']:g} FPS of source time: "
        "displayed label changes per minute (raw: the per-frame arg-max's). **Reaction**: two evaluation faces of "
        f"different labels, both right in their dataset crops, at the same spot, {s['change_seconds']:g} s each: "
        "seconds from the switch until the displayed label is the second face's, over the pairs where the "
        "classifier itself saw A then B on the detector's crops: the median of all of them (a pair never followed "
        f"before its {s['change_seconds']:g} s ended counts as the slowest; the target's measure), then the mean "
        "of the followed ones, then (followed within 0.5 s / followed / such pairs / pairs).",
        "- **Pipeline**: the pipeline part's worker (a fresh process, the demo's frame loop, capture = MJPG decode) on "
        "the one-face photos' real-content frames as a Motion-JPEG AVI; x Haar: FPS over the Haar pipeline's FPS.",
        "",
    ]
    header = ["detector", "detect ms real", "detect ms clip", "real: face found %", "real: faces found",
              "real: false", "clip: found %", "clip: false/frame", "crops: found %", "acc. dataset %",
              "acc. calibrated %", "acc. plain %", "acc. placed box %", "steady: changes/min (raw)",
              "reaction s median / mean of followed", "pipeline FPS", "x Haar"]
    rows = []
    for r in cam["rows"]:
        rl, cl, cr = r.get("real") or {}, r.get("clip") or {}, r.get("crops") or {}
        st, ch, pi = r.get("steady") or {}, r.get("change") or {}, r.get("pipeline") or {}
        reaction = MISSING
        if ch:
            within = ch.get("within_target")
            # None: more than half never followed; absent: a report from before the measure (session 33)
            median = "never" if ch.get("classifier_agrees") and "median_all_s" in ch and ch["median_all_s"] is None \
                else _f(ch.get("median_all_s"), 2)
            reaction = (f"{median} / {_f(ch.get('mean_reaction_s'), 2)} "
                        f"({MISSING if within is None else within}/{ch['followed']}/{ch['classifier_agrees']}/"
                        f"{ch['pairs']})")
        steady = MISSING
        if st.get("changes_per_minute") is not None:
            steady = f"{st['changes_per_minute']:.1f} ({_f(st.get('raw_changes_per_minute'), 1)})"
        rows.append([
            r["detector"], _ms_pair(rl.get("ms")), _ms_pair(cl.get("ms")), _pct(rl.get("frame_found_rate")),
            f"{rl['found']} / {rl['expected_faces']}" if rl else MISSING,
            str(rl["false_detections"]) if rl else MISSING,
            _pct(cl.get("recall")), _f(cl.get("false_per_frame"), 3), _pct(cr.get("found_rate")),
            _pct(cr.get("acc_dataset")), _pct(cr.get("acc_calibrated")), _pct(cr.get("acc_plain")),
            _pct(cr.get("acc_placed_box")), steady, reaction,
            _f(pi.get("fps")) if "error" not in pi else "failed", _f(pi.get("vs_haar"), 2),
        ])
    out += _table(header, rows)
    out += ["", "Framing per detector: " + "; ".join(f"{r['detector']}: {r['framing']}" for r in cam["rows"]) + "."]
    intervals = [f"{r['detector']} {100 * (r['crops']['acc_dataset'] - r['crops']['acc_calibrated']):+.2f} "
                 f"[{r['crops']['shortfall_ci_pp'][0]:+.2f}, {r['crops']['shortfall_ci_pp'][1]:+.2f}]"
                 for r in cam["rows"] if (r.get("crops") or {}).get("shortfall_ci_pp")]
    if intervals:
        out += ["", "Calibrated crops' shortfall against the dataset crops (dataset - calibrated, pp) with its 95% "
                "interval over the found faces (paired, normal approximation): " + "; ".join(intervals) + "."]
    keypoints = [_paired_gain(r["detector"], r["crops"], "acc_calibrated", "acc_calibrated_median",
                              "keypoints_minus_median") for r in cam["rows"]
                 if (r.get("crops") or {}).get("acc_calibrated_median") is not None]
    if keypoints:
        out += ["", "Each face framed by its keypoints (the calibrated column) against the same boxes cut with the "
                "median transform alone, with the paired 95% interval of the difference: " + "; ".join(keypoints) + "."]
    emotion = [_paired_gain(r["detector"], r["crops"], "acc_emotion_framed", "acc_calibrated",
                             "emotion_minus_calibrated") for r in cam["rows"]
               if (r.get("crops") or {}).get("acc_emotion_framed") is not None]
    if emotion:
        out += ["", "Each found face cut with its own emotion's median transform (framing.json's by_class, the label "
                "known in advance, which no camera can know) against the calibrated crops, with the paired 95% "
                "interval: the part of the shortfall that FER2013's framing following the emotion explains; the "
                "placed box column is all of the framing: " + "; ".join(emotion) + "."]
    false = [f"{r['detector']}: " + ", ".join(f"{photo} {c['false']}" for photo, c in r["real"]["by_photo"].items()
                                             if c["false"])
             for r in cam["rows"] if (r.get("real") or {}).get("false_detections") and r["real"].get("by_photo")]
    if false:
        out += ["", "False detections on real-content frames, by photo: " + "; ".join(false) + "."]
    out += ["", "### Targets", "",
            "Checked from the numbers above (issue \"The camera path\"); \"not measured\": the input was missing.", ""]
    out += _table(["target", "detector", "threshold", "measured", "met"],
                  [[t["target"], t["detector"], t["threshold"], _value(t["value"], t["unit"]), _met(t["met"])]
                   for t in cam["targets"]], ["---", "---", "---", "--:", "---"])
    out += ["", "### Views that earn their cost", ""] + views_lines(cam.get("views") or {})
    failed = [r for r in cam["rows"] if "error" in (r.get("pipeline") or {})]
    notes = list(cam.get("notes") or []) + [f"{r['detector']} pipeline: {r['pipeline']['error']}" for r in failed]
    if notes:
        out += [""] + [f"- {n}" for n in notes]
    return out + [""]


def _paired_gain(detector: str, crops: dict, better: str, base: str, difference: str) -> str:
    """``blazeface 70.4 against 70.1 (+0.30 pp [-0.20, +0.80])``: the crops' accuracy ``better`` against ``base``,
    with the difference ``{difference}_pp`` and its interval ``{difference}_ci_pp``."""
    ci = crops.get(f"{difference}_ci_pp")
    interval = f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else ""
    return (f"{detector} {_pct(crops[better])} against {_pct(crops[base])} "
            f"({crops[f'{difference}_pp']:+.2f} pp{interval})")


def views_lines(views: dict) -> list[str]:
    """The classifier's share of the BlazeFace frame and what the second (mirror) view buys."""
    if not views:
        return ["Not measured."]
    model = views.get("model") or {}
    out = []
    count = views.get("views")
    if views.get("classify_share") is not None:
        out.append(f"- `{model.get('file')}` ({count} view{'s' if count != 1 else ''} per face): the classify stage "
                   f"takes {views['classify_ms']:.2f} ms of the BlazeFace pipeline's {views['blazeface_frame_ms']:.2f} "
                   f"ms median frame ({100 * views['classify_share']:.1f}%, one face per frame).")
    if views.get("latency_share") is not None:
        out.append(f"- Classifier latency part: {views['latency_us']:.0f} µs per face at 1 thread, "
                   f"{100 * views['latency_share']:.1f}% of that frame; a one-view model would run half the "
                   "interpreter work.")
    keras = views.get("keras") or {}
    if keras.get("measured"):
        for key, text in (("dataset", "dataset crops"), ("blazeface_calibrated", "BlazeFace calibrated crops")):
            k = keras.get(key)
            if k:
                out.append(f"- Keras checkpoint (`{keras['checkpoint']}`), {text} ({k['n']} faces): one view "
                           f"{100 * k['one_view']:.2f}%, two views {100 * k['two_views']:.2f}% "
                           f"({k['gain_pp']:+.2f} pp).")
    else:
        out.append(f"- Accuracy of two views against one: not measured ({keras.get('reason', 'no data')}).")
    if views.get("tflite_accuracy") is not None:
        gain = views.get("tflite_mirror_gain_pp")
        extra = f"; with `--mirror-average` {gain:+.2f} pp" if gain is not None else ""
        out.append(f"- Accuracy part: `{model.get('file')}` scores {100 * views['tflite_accuracy']:.2f}%{extra}.")
    return out or ["Not measured."]


def plots_section(results: dict) -> list[str]:
    out = ["## Plots", ""]
    titles = {
        "accuracy_vs_latency": "Accuracy vs classifier latency (1 thread)",
        "per_class_recall": "Per-class recall: float reference vs int8",
        "pipeline_stages": "Per-stage pipeline latency (median ms per frame)",
        "latency_threads": "Classifier latency by thread count",
    }
    for key, file in results["plots"].items():
        out += [f"![{titles.get(key, key)}]({file})", ""]
    for note in results.get("plot_notes", []):
        out += [f"- {note}"]
    return out + [""]


def _loads(values: list[float] | None) -> str:
    return " / ".join(f"{v:.2f}" for v in values) if values else MISSING


def host_section(results: dict) -> list[str]:
    h = results["host"]
    interp = h["interpreter"]
    tf_text = results["reference"].get("tensorflow") or ("installed" if h["tensorflow_installed"] else "not installed")
    rows = [
        ["host", h["hostname"]], ["CPU", h["cpu_model"]], ["machine", h["machine"]], ["cores", str(h["cores"])],
        ["memory", f"{h['memory_mib']:.0f} MiB" if h.get("memory_mib") else MISSING], ["OS", h["os"]],
        ["Python", f"{h['python']} ({h['python_implementation']})"],
        ["interpreter", f"{interp['package']} {interp['version']}"], ["OpenCV", h["opencv"]], ["NumPy", h["numpy"]],
        ["TensorFlow", tf_text],
        ["load average (1/5/15 min) at start", _loads(h.get("load_average_start"))],
        ["load average at end", _loads(h.get("load_average_end"))],
        ["peak RSS of the benchmark process (data, accuracy, latency; TensorFlow when the Keras reference loads)",
         f"{results['benchmark_peak_rss_mib']:.0f} MiB"],
        ["date", h["date"]], ["duration", f"{results['duration_s']:.0f} s"],
    ]
    out = ["## Host", ""] + _table(["fact", "value"], rows, ["---", "---"])
    return out + ["", "## Command", "", "```", results["command"], "```", ""]


def render_markdown(results: dict) -> str:
    h = results["host"]
    lines = [
        f"# feredge benchmark: {h['hostname']}, {h['date'][:10]}",
        "",
        f"{h['cpu_model']}, {h['cores']} cores, {h['os']}; {h['interpreter']['package']} "
        f"{h['interpreter']['version']}. Models: `{results['models_dir']}` "
        f"({len(results['models'])} of {len(results['models']) + len(results['missing_models'])}).",
        "",
        "## Summary",
        "",
        *[f"- {line}" for line in summary_lines(results)],
        "",
    ]
    if results.get("notes"):
        lines += ["Notes:", "", *[f"- {n}" for n in results["notes"]], ""]
    lines += accuracy_section(results)
    lines += latency_section(results)
    lines += pipeline_section(results)
    lines += camera_section(results)
    lines += plots_section(results)
    lines += [
        "## Formats",
        "",
        *_table(["format", "what"], [[f["name"], FORMATS_BY_NAME[f["name"]].description] for f in results["formats"]],
                ["---", "---"]),
        "",
    ]
    lines += host_section(results)
    return "\n".join(lines)


# ---------------------------------------------------------------- plots


def _save(fig, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())


FORMAT_MARKERS = {"float32": "o", "float16": "s", "dynamic": "^", "int8": "D", "keras": "*"}


def make_plots(results: dict, out: Path) -> tuple[dict[str, str], list[str]]:
    """({plot key: file name}, notes). Needs matplotlib; without it, no plots and a note saying so."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}, ["matplotlib is not installed: no plots (pip install -r requirements/bench.txt)"]
    plots: dict[str, str] = {}
    notes: list[str] = []
    acc, lat, pipe = results["accuracy"], results["latency"], results["pipeline"]
    variants = list(dict.fromkeys(m["variant"] for m in results["models"]))
    colors = {v: f"C{i}" for i, v in enumerate(variants)}

    if not acc.get("skipped") and lat["rows"]:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for r in acc["rows"]:
            point = latency_at(results, r["variant"], r["format"], 1)
            if point is None:
                if r["format"] == "keras":
                    ax.axhline(100 * r["accuracy"], color=colors[r["variant"]], ls="--", lw=1,
                               label=f"{r['variant']} Keras reference")
                continue
            ax.scatter(point["median_us"], 100 * r["accuracy"], marker=FORMAT_MARKERS.get(r["format"], "o"),
                       color=colors[r["variant"]], s=70, alpha=0.85, label=f"{r['variant']} {r['format']}")
        ax.set_xlabel("classifier latency, µs per face (median, 1 thread)")
        ax.set_ylabel(f"accuracy on {acc['split']} (%)")
        ax.set_title("Accuracy vs latency per format")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
        _save(fig, out / PLOTS["accuracy_vs_latency"])
        plt.close(fig)
        plots["accuracy_vs_latency"] = PLOTS["accuracy_vs_latency"]
    elif acc.get("skipped"):
        notes.append("no accuracy vs latency and per-class recall plots: the accuracy part was skipped")
    else:
        notes.append("no accuracy vs latency plot: the latency part was skipped")

    if not acc.get("skipped"):
        pairs = []
        for v in variants:
            ref = next((r for r in acc["rows"] if r["variant"] == v and r["is_reference"]), None)
            int8 = next((r for r in acc["rows"] if r["variant"] == v and r["format"] == "int8"), None)
            if ref and int8:
                pairs.append((v, ref, int8))
        if pairs:
            fig, axes = plt.subplots(len(pairs), 1, figsize=(8, 3.2 * len(pairs)), squeeze=False)
            width = 0.38
            for ax, (v, ref, int8) in zip(axes[:, 0], pairs, strict=True):
                xs = range(len(EMOTIONS))
                ax.bar([x - width / 2 for x in xs], [100 * ref["per_class"][e]["recall"] for e in EMOTIONS], width,
                       label=f"reference ({ref['format']})", color="C0")
                ax.bar([x + width / 2 for x in xs], [100 * int8["per_class"][e]["recall"] for e in EMOTIONS], width,
                       label="int8", color="C3")
                ax.set_xticks(list(xs), EMOTIONS)
                ax.set_ylabel("recall (%)")
                ax.set_ylim(0, 100)
                ax.set_title(f"{v}: per-class recall, float reference vs int8")
                ax.legend(fontsize=8)
                ax.grid(axis="y", alpha=0.3)
            fig.tight_layout()
            _save(fig, out / PLOTS["per_class_recall"])
            plt.close(fig)
            plots["per_class_recall"] = PLOTS["per_class_recall"]
        else:
            notes.append("no per-class recall plot: no variant has both a reference and an int8 model")

    ok = [r for r in pipe.get("rows", []) if "error" not in r] if not pipe.get("skipped") else []
    if ok:
        fig, ax = plt.subplots(figsize=(8, 0.6 * len(ok) + 1.6))
        names = [f"{r['variant']}/{r['format']}" for r in ok]
        left = [0.0] * len(ok)
        for i, stage in enumerate(STAGE_ORDER):
            values = [r["stages_ms"][stage]["median"] or 0.0 for r in ok]
            ax.barh(names, values, left=left, label=stage, color=f"C{i}")
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_xlabel("ms per frame (median of each stage)")
        ax.set_title("Pipeline latency per stage")
        ax.legend(ncol=len(STAGE_ORDER), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.25))
        ax.invert_yaxis()
        _save(fig, out / PLOTS["pipeline_stages"])
        plt.close(fig)
        plots["pipeline_stages"] = PLOTS["pipeline_stages"]
    else:
        notes.append("no per-stage pipeline plot: the pipeline part was skipped or failed")

    if lat["rows"]:
        threads = lat["threads"]
        keys = list(dict.fromkeys((r["variant"], r["format"]) for r in lat["rows"]))
        fig, ax = plt.subplots(figsize=(max(6, 1.0 * len(keys) + 2), 4))
        width = 0.8 / len(threads)
        for j, t in enumerate(threads):
            med, err = [], []
            for v, f in keys:
                r = latency_at(results, v, f, t)
                med.append(r["median_us"] if r else 0.0)
                err.append((r["p95_us"] - r["median_us"]) if r else 0.0)
            xs = [i + (j - (len(threads) - 1) / 2) * width for i in range(len(keys))]
            ax.bar(xs, med, width, yerr=[[0.0] * len(err), err], capsize=2, label=f"{t} thread{'s' if t > 1 else ''}")
        ax.set_xticks(range(len(keys)), [f"{v}\n{f}" for v, f in keys], fontsize=8)
        ax.set_ylabel("µs per face (median, bar to p95)")
        ax.set_title("Classifier latency by thread count")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        _save(fig, out / PLOTS["latency_threads"])
        plt.close(fig)
        plots["latency_threads"] = PLOTS["latency_threads"]
    return plots, notes


def write_outputs(results: dict, out: Path, plots: bool = True) -> Path:
    """Plots, ``results.json`` and ``report.md`` in ``out`` (atomic writes); returns the report's path."""
    out.mkdir(parents=True, exist_ok=True)
    if plots:
        results["plots"], results["plot_notes"] = make_plots(results, out)
    else:
        results["plots"], results["plot_notes"] = {}, ["plots were not asked for (--no-plots)"]
    atomic_write_json(out / "results.json", results)
    report = out / "report.md"
    atomic_write_text(report, render_markdown(results))
    return report
