"""Mutation check: does the test suite catch the bugs it is meant to catch?

Each mutant changes one piece of source the way a real bug would (found by a mutation probe, or a defect that was
fixed) and names the tests that must then fail. The check copies the working tree (tracked and untracked files
that git does not ignore, plus the venv by reference) to a temporary folder, applies one mutant at a time, runs its
tests there, and reports each mutant as killed (a test failed, as it should) or survived (the suite missed the bug).

    make mutation                         # every mutant (several minutes: some tests train tiny models)
    make mutation MUTANTS="resume-backup tracker-max-missed"
    .venv/bin/python tests/mutation.py --list

Exit code 0 when every mutant is killed, 1 when one survived, 2 when a mutant no longer applies (its source line
changed: update the table).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str  # relative to the repository root
    old: str  # must occur exactly once in the file
    new: str
    tests: tuple[str, ...]  # pytest node ids or files, relative to the root
    why: str


MUTANTS: tuple[Mutant, ...] = (
    # --- training: resume, evaluation, the study's variable
    Mutant("resume-backup", "train/trainer.py",
           '        keras.callbacks.BackupAndRestore(str(out / "backup")),\n', "",
           ("tests/train/test_training.py::test_resume_after_kill",),
           "without BackupAndRestore a resumed run starts again at epoch 1"),
    Mutant("stale-partial-kept", "train/trainer.py",
           "    if partial.exists():  # a save cut short by a stop or a crash: never promoted\n",
           "    if False:  # a save cut short by a stop or a crash: never promoted\n",
           ("tests/train/test_training.py::test_resume_after_kill",),
           "a best checkpoint cut short by a kill stays beside best.keras and a later promotion may rename it "
           "into place"),
    Mutant("crop-placements-as-faces", "benchmarks/crops.py",
           "    faces, cluster = np.unique(np.asarray(found), return_inverse=True)\n",
           "    faces, cluster = np.arange(len(found)), np.arange(len(found))\n",
           ("tests/benchmarks/test_crops.py::test_shortfall_interval_takes_each_face_as_one_unit",),
           "a face placed on several canvases counts as several faces and the shortfall interval narrows falsely"),
    Mutant("carry-weights-not-applied", "train/carry.py",
           "        model.set_weights(self.latest())\n", "",
           ("tests/train/test_carry.py::test_a_stopped_run_carried_into_a_new_checkout_resumes_where_it_stopped",),
           "a run restored from its carried state trains on from fresh random weights"),
    Mutant("carry-schedule-restarted", "train/carry.py",
           "        model.optimizer.iterations.assign(self.iterations)\n", "",
           ("tests/train/test_carry.py::test_a_stopped_run_carried_into_a_new_checkout_resumes_where_it_stopped",),
           "a restored run's learning-rate schedule starts again from its warm-up"),
    Mutant("carry-epoch-forgotten", "train/trainer.py",
           "            initial_epoch=carried.epoch if carried is not None else 0,", "            initial_epoch=0,",
           ("tests/train/test_carry.py::test_a_stopped_run_carried_into_a_new_checkout_resumes_where_it_stopped",),
           "a restored run trains all its epochs again"),
    Mutant("carry-overwrites-local-epochs", "train/carry.py",
           '    if read_log(out / "log.csv") or (out / "backup").exists():\n        return None\n', "",
           ("tests/train/test_carry.py::test_a_run_folder_with_epochs_of_its_own_is_not_overwritten",),
           "a carried state older than the run folder's own backup replaces its log"),
    Mutant("kept-run-retrained", "train/pipeline.py",
           "        kept = restore_kept(spec.ref, runs_root)\n", "        kept = None\n",
           ("tests/train/test_finetune.py::test_a_needed_run_kept_in_the_repository_is_put_in_place_not_trained",),
           "a fresh checkout trains again the runs a recipe needs although they are kept with their models"),
    Mutant("int8-nearest-rounding", "convert/converter.py",
           "    with int8_grid_weights(model) if (fmt.int8_io and weight_rounding == \"sum-kept\") else nullcontext():",
           "    with nullcontext():",
           ("tests/convert/test_rounding.py::"
            "test_sum_kept_int8_weights_reach_the_file_and_the_float_model_is_left_as_it_was",),
           "sum-kept rounding asked for, the int8 converter still rounds each weight to its nearest step"),
    Mutant("int8-grid-not-undone", "convert/rounding.py",
           "            layer.kernel.assign(kernel)\n", "            pass\n",
           ("tests/convert/test_rounding.py::"
            "test_sum_kept_int8_weights_reach_the_file_and_the_float_model_is_left_as_it_was",),
           "converting to int8 leaves the grid weights in the float model, which the other formats then convert"),
    Mutant("float-head-not-kept", "convert/head.py",
           "QuantizationDebugOptions(denylisted_nodes=nodes, fully_quantize=True)",
           "QuantizationDebugOptions(denylisted_nodes=[], fully_quantize=True)",
           ("tests/convert/test_head.py::"
            "test_the_float_head_keeps_the_dense_head_float_and_the_rest_integer_with_the_int8_contract",),
           "--head float32 asked for, the converter still quantises the dense head to int8"),
    Mutant("float-head-float-io", "convert/head.py",
           "QuantizationDebugOptions(denylisted_nodes=nodes, fully_quantize=True)",
           "QuantizationDebugOptions(denylisted_nodes=nodes, fully_quantize=False)",
           ("tests/convert/test_head.py::"
            "test_the_float_head_keeps_the_dense_head_float_and_the_rest_integer_with_the_int8_contract",),
           "the int8 model with a float head takes float32 input and gives float32 output, not the int8 contract"),
    Mutant("pool-head-at-the-dense-layer", "convert/head.py",
           "        return start - 1\n", "        return start\n",
           ("tests/convert/test_head.py::"
            "test_the_pool_head_starts_at_the_global_average_pool_and_keeps_the_int8_contract",),
           "--head float32-pool asked for, the pooled features are still rounded to int8 before the dense layer"),
    Mutant("auto-head-ignores-the-pool", "convert/head.py",
           "        return start - 1 if pooled else start\n", "        return start\n",
           ("tests/convert/test_head.py::"
            "test_the_default_head_pools_in_float_when_the_model_pools_and_starts_at_the_dense_layer_otherwise",),
           "the default conversion no longer keeps the pool in float: the shipped int8 files cannot be made again"),
    Mutant("mse-cut-without-clipping", "convert/ranges.py",
           "        err = float(np.mean((np.round(np.minimum(v, cut) / step) * step - v) ** 2))\n",
           "        err = float(np.mean((np.round(v / step) * step - v) ** 2))\n",
           ("tests/convert/test_ranges.py::test_evenly_spread_values_keep_their_whole_range",
            "tests/convert/test_ranges.py::test_a_long_tail_is_cut_between_the_bulk_and_the_largest_value"),
           "the range cut counts only rounding, not what it clips: every activation is cut to the lowest fraction"),
    Mutant("mse-ranges-ignored", "convert/converter.py",
           "            if fmt.int8_io and activation_ranges != \"minmax\":\n",
           "            if False:\n",
           ("tests/convert/test_ranges.py::test_mse_ranges_give_finer_activation_steps_and_keep_the_int8_contract",),
           "--activation-ranges mse asked for, the int8 model keeps the calibrator's ranges"),
    Mutant("crop-difference-reversed", "benchmarks/compare.py",
           '    return {"delta_pp": delta, "ci_pp": shortfall_interval_pp(found, c_right, s_right),\n',
           '    return {"delta_pp": delta, "ci_pp": shortfall_interval_pp(found, s_right, c_right),\n',
           ("tests/benchmarks/test_compare.py::"
            "test_the_crop_difference_pairs_the_placements_and_takes_each_face_as_one_unit",),
           "the interval of the candidate's crop difference is the shipped model's against it: a loss reads as a gain"),
    Mutant("calibration-crops-of-missed-faces", "convert/converter.py",
           "    candidates = np.flatnonzero(np.asarray(found, bool))\n",
           "    candidates = np.arange(len(found))\n",
           ("tests/convert/test_ranges.py::"
            "test_a_mixed_calibration_set_takes_device_crops_of_found_faces_and_dataset_crops_of_the_others",),
           "the int8 calibration takes 'device crops' of faces the detector missed: blank images"),
    Mutant("calibration-face-twice", "convert/converter.py",
           "    rest = np.setdiff1d(np.arange(len(x)), chosen)\n",
           "    rest = np.arange(len(x))\n",
           ("tests/convert/test_ranges.py::"
            "test_a_mixed_calibration_set_takes_device_crops_of_found_faces_and_dataset_crops_of_the_others",),
           "a face's dataset crop and its device crop both calibrate: the set holds fewer faces than it says"),
    Mutant("conversion-rule-asks-a-gain", "benchmarks/compare.py",
           "    if rule.faithful:\n        ship = _faithful(result, rule, reasons)\n    elif",
           "    if False:\n        pass\n    elif",
           ("tests/benchmarks/test_compare.py::"
            "test_a_conversion_of_the_same_float_models_ships_when_more_faithful_within_the_band",),
           "a conversion of the shipped float models is judged by the gain a new student must make"),
    Mutant("smoothing-replay-keeps-one-smoother", "benchmarks/smoothing.py",
           "        if smoother is None or track != current:", "        if smoother is None:",
           ("tests/benchmarks/test_smoothing.py::"
            "test_the_replay_is_the_trackers_smoothing_and_restarts_with_a_new_track",),
           "the tuning replays a new track's frames through the old track's smoother, unlike the tracker"),
    Mutant("reaction-target-ignores-never-followed", "benchmarks/steadiness.py",
           '"median_all_s": censored_median([r["reaction_s"] for r in agreed]),',
           '"median_all_s": censored_median(followed),',
           ("tests/benchmarks/test_steadiness.py::test_a_change_never_followed_counts_as_the_slowest",),
           "the camera target's reaction leaves out the changes the label never followed"),
    Mutant("smoothing-rule-ignores-synthetic-face", "benchmarks/smoothing.py",
           "and (synthetic is None or synthetic <= SYNTHETIC_SHARE * target + 1e-9) and quick",
           "and quick",
           ("tests/benchmarks/test_smoothing.py::test_the_rule_takes_the_quickest_quiet_setting_and_the_smoothest_of_ties",),
           "the tuning may choose a setting that flickers on an ambiguous face"),
    Mutant("any-float-model-is-the-shipped-one", "benchmarks/compare.py",
           "float(np.abs(tflite_predict(a, x) - tflite_predict(b, x)).max()) <= SAME_FLOAT_ATOL", "True",
           ("tests/benchmarks/test_compare.py::test_another_float_model_is_judged_as_a_new_student",),
           "a retrained student is judged by the conversion rule, which asks for no gain"),
    Mutant("soup-teachers-lost", "convert/pipeline.py",
           'info["teachers"] = data.get("teachers") or _inherited_teachers(run.parent.parent, needed)',
           'info["teachers"] = data.get("teachers")',
           ("tests/convert/test_budget.py::"
            "test_weight_average_names_its_members_and_inherits_the_teachers_of_the_run_that_distilled",),
           "a shipped weight average's manifest says it was distilled from no teachers"),
    Mutant("soup-framework-unrecorded", "train/trainer.py",
           '"precision": "float32", **prov, **backend.record(), "keras": keras.__version__,',
           '"precision": "float32", **prov, "keras": keras.__version__,',
           ("tests/train/test_soup.py::test_a_soup_trains_its_members_first_and_is_their_mean_and_follows_them",),
           "a weight average's run records no framework version, so its manifest entry says tensorflow: null"),
    Mutant("ensemble-parts-unweighted", "train/distill.py",
           "    total = sum(size for size, _ in groups)\n",
           "    total = len(groups)\n    groups = [(1, kept) for _, kept in groups]\n",
           ("tests/train/test_distillation.py::test_an_ensemble_is_put_together_from_the_kept_predictions_of_its_parts",),
           "a kept pair counts as one teacher when a third joins it: the students learn a skewed ensemble"),
    Mutant("ensemble-parts-repredicted", "train/distill.py",
           "    groups, remaining = _kept_groups(folder, tuple(teachers), key_of, count)\n",
           "    groups, remaining = [], list(teachers)\n",
           ("tests/train/test_distillation.py::test_an_ensemble_is_put_together_from_the_kept_predictions_of_its_parts",),
           "a teacher whose predictions are kept in an earlier ensemble's file predicts again (an hour on a CPU)"),
    Mutant("retrain-finished-run", "train/trainer.py",
           '    if state == "trained":', '    if False:',
           ("tests/train/test_training.py::test_stopped_during_final_evaluation_is_evaluated_not_retrained",),
           "a run stopped during its final evaluation is trained again"),
    Mutant("class-weight-dropped", "train/trainer.py",
           "class_weight=weights if targets is None else None,", "class_weight=None,",
           ("tests/train/test_training.py::test_class_weights_reach_fit",),
           "the weighted variant trains without its class weights"),
    Mutant("distill-sample-weights-dropped", "train/trainer.py",
           "            tensors = (*tensors, sample_w)\n", "",
           ("tests/train/test_distillation.py::test_distillation_feeds_class_weights_as_per_image_sample_weights",),
           "the distilled weighted variant trains without its per-image weights"),
    Mutant("archive-any-data", "train/archive.py",
           "return evaluated(folder, epochs) and data_summary(folder) == summary",
           "return evaluated(folder, epochs)",
           ("tests/train/test_archive.py::test_an_archived_run_counts_when_finished_on_the_same_data",
            "tests/train/test_study.py::test_finished_runs_are_archived_and_a_checkout_without_runs_reports_them"),
           "the study reports archived runs trained on other data as if they were this data's"),
    Mutant("archive-not-read", "train/study.py",
           "                elif evaluated(kept, recipe.epochs):",
           "                elif False:",
           ("tests/train/test_study.py::test_finished_runs_are_archived_and_a_checkout_without_runs_reports_them",),
           "a fresh checkout trains the archived runs again instead of reporting them"),
    Mutant("budget-verdict-always-unclear", "train/study_report.py",
           "    return 1 if lo > 0 else -1 if hi < 0 else 0",
           "    return 0",
           ("tests/train/test_study_report.py::test_the_budgets_answer_in_words_follows_each_interval",),
           "the README's answer in words calls every difference unclear, whatever its interval"),
    Mutant("matching-tau-far-side", "core/balance.py",
           "    for row in rows:\n        if row[key] >= target:",
           "    for row in sorted(rows, key=lambda r: abs(r[key] - target)):\n        if row[key] >= target:",
           ("tests/core/test_balance.py::test_the_matching_tau_is_the_first_crossing_not_a_later_one",),
           "prior correction is matched on the far side of a curve that rises and falls, where accuracy collapsed"),
    Mutant("class-weight-late", "train/pipeline.py",
           '    if any(s.variant == "weighted" and run_state(s) != "complete" for s in specs):',
           "    if False:",
           ("tests/train/test_training.py::test_missing_class_with_weighted_variant_fails_before_training",),
           "a class missing from Training is found only after the unweighted variant trained"),
    # --- data loading
    Mutant("csv-bom", "core/dataset.py",
           'return open(path, encoding="utf-8-sig", newline="")', 'return open(path, encoding="utf-8", newline="")',
           ("tests/core/test_dataset.py::test_csv_with_a_byte_order_mark_loads",),
           "a CSV saved with a byte-order mark is rejected"),
    Mutant("manifest-broken-json-ignored", "core/manifest.py",
           '        raise ManifestError(f"{path}: not readable JSON ({exc}); rerun `make convert` or remove the file") '
           'from exc', '        return {"models": []}',
           ("tests/core/test_manifest.py",),
           "a broken manifest is silently an empty one (the other variant's entries would be dropped)"),
    # --- conversion
    Mutant("convert-stale-entries-kept", "convert/pipeline.py",
           '        if f.exists() and sha256_file(f) == e["sha256"]:', "        if f.exists():",
           ("tests/convert/test_convert.py::test_manifest_drops_entries_whose_file_changed_or_went",),
           "manifest entries whose file changed are kept"),
    Mutant("convert-calibration-size-ignored", "convert/__main__.py",
           "calibration, args.calibration_size,", "calibration, 500,",
           ("tests/convert/test_convert.py::test_int8_models_record_the_calibration_size_asked_for",),
           "--calibration-size is ignored"),
    # --- device runtime
    Mutant("classifier-input-scale-ignored", "device/classifier.py",
           "q = np.rint(pixels / scale + zero_point)", "q = np.rint(pixels + zero_point)",
           ("tests/device/test_classifier.py",), "int8 input quantisation ignores the tensor's scale"),
    Mutant("classifier-output-zero-point-ignored", "device/classifier.py",
           "return ((scores.astype(np.float32) - zero_point) * scale)", "return ((scores.astype(np.float32)) * scale)",
           ("tests/device/test_classifier.py",), "int8 output dequantisation ignores the zero point"),
    Mutant("classifier-dtype-check-removed", "device/classifier.py",
           "if dtype not in [np.dtype(d) for d in SUPPORTED_DTYPES]:", "if False:",
           ("tests/device/test_classifier.py",), "a model with unsupported tensor types is accepted"),
    Mutant("balance-not-applied", "device/classifier.py",
           "scores = adjust(scores, self._priors, self.options.balance)", "scores = scores",
           ("tests/device/test_classifier.py",), "--balance is accepted but does not change the scores"),
    Mutant("folder-images-blended", "device/loop.py",
           "        if self.stills:  # independent images", "        if False:  # independent images",
           ("tests/device/test_demo.py::test_images_of_a_folder_are_not_blended",),
           "an image folder's unrelated photos are tracked and averaged as one face"),
    Mutant("framing-calibration-ignored", "device/demo.py",
           "    return (calibrated_framing(key) or calibrated_framing(parse_setting(key)[0])",
           "    return (Framing.from_margin(DEFAULT_MARGIN)",
           ("tests/device/test_framing.py",), "the detector's calibrated framing is not applied"),
    Mutant("blazeface-no-sigmoid", "device/blazeface.py",
           "scores = 1.0 / (1.0 + np.exp(-logits))", "scores = logits",
           ("tests/device/test_blazeface.py::test_scores_threshold_and_clipping",),
           "BlazeFace's score logits are used as probabilities"),
    Mutant("blazeface-unconfirmed-kept", "device/blazeface.py",
           "        return best if best is not None and box.iou(best) >= REFINE_MATCH_IOU else None",
           "        return best if best is not None and box.iou(best) >= REFINE_MATCH_IOU else box",
           ("tests/device/test_blazeface.py",),
           "a face the second look does not find again is kept (false faces stay)"),
    Mutant("blazeface-never-searches", "device/blazeface.py",
           "            or self._since_search >= self.options.search_every\n", "",
           ("tests/device/test_blazeface.py",),
           "while following faces the whole frame is never searched again: a new face is never found"),
    Mutant("blazeface-follow-lost", "device/blazeface.py",
           "        return None if any(box is None for box in found) else found",
           "        return [box for box in found if box is not None]",
           ("tests/device/test_blazeface.py",),
           "a lost face does not trigger a whole-frame search (a face that moved far is missed until the next one)"),
    Mutant("tracker-max-age", "device/tracking.py",
           "now - track.last_seen > self.max_age + TIME_EPS", "now - track.last_seen >= self.max_age - TIME_EPS",
           ("tests/device/test_tracking.py",),
           "a track is dropped one frame early (at exactly max_age unseen)"),
    Mutant("smoothing-by-frames", "device/tracking.py",
           "        now = time.monotonic() if timestamp is None or not math.isfinite(timestamp) else float(timestamp)",
           "        now = time.monotonic()",
           ("tests/device/test_tracking.py", "tests/device/test_smoothing.py"),
           "smoothing ignores the frames' own timestamps"),
    Mutant("web-encodes-for-nobody", "device/web.py",
           "        return self.view.clients(STREAM) > 0", "        return True",
           ("tests/device/test_web.py::test_nothing_is_drawn_or_encoded_while_nobody_watches",),
           "the web view draws and JPEG-encodes every frame while nobody watches"),
    # --- benchmarks
    Mutant("bench-accuracy-misaligned", "benchmarks/accuracy.py",
           "    m = metrics(y, probs)\n", "    m = metrics(y, probs[::-1])\n",
           ("tests/benchmarks/test_accuracy.py::test_quick_run_accuracy_is_the_device_classifiers",),
           "the benchmark scores predictions against the wrong faces' labels"),
    Mutant("compare-ignores-jitter", "benchmarks/compare.py",
           'if row["delta_pp"] < -rule.jitter_tolerance_pp]', 'if row["delta_pp"] < -100.0]',
           ("tests/benchmarks/test_compare.py::test_one_worse_jitter_row_of_any_variant_keeps_the_shipped_models",),
           "a candidate worse on a face-box jitter row is shipped anyway"),
    Mutant("compare-gain-reversed", "benchmarks/compare.py",
           'return {"gain_pp": 100.0 * float(right_c.mean() - right_s.mean()),',
           'return {"gain_pp": 100.0 * float(right_s.mean() - right_c.mean()),',
           ("tests/benchmarks/test_compare.py::test_the_gain_is_the_candidates_accuracy_minus_the_shipped_ones",),
           "the gain is measured the wrong way round: a worse candidate would ship"),
    Mutant("teacher-file-digest-unchecked", "train/teachers.py",
           "if candidate.is_file() and _short_digest(candidate) == self.digest:",
           "if candidate.is_file():",
           ("tests/train/test_teachers.py::test_a_model_file_is_pinned_by_its_digest",
            "tests/train/test_teachers.py::test_the_plan_checks_a_model_teacher_before_any_data_loads"),
           "a student distils from whatever model file now sits at the teacher's path (a newer shipped model)"),
    Mutant("convert-overwrites-a-teacher", "convert/pipeline.py",
           "                    kept = keep_teacher_file(path, teacher_names)\n",
           "                    kept = None\n",
           ("tests/convert/test_convert.py::test_a_model_a_recipe_names_as_teacher_is_kept_when_replaced",),
           "shipping a new model overwrites the one a recipe names as its teacher: that recipe cannot run again"),
    Mutant("convert-failure-drops-a-teacher", "convert/pipeline.py",
           "                keep_teacher_file(path, teacher_names)  # a file a recipe names",
           "                pass  # a file a recipe names",
           ("tests/convert/test_convert.py::test_a_model_a_recipe_names_as_teacher_is_kept_when_replaced",),
           "a conversion that fails removes the model a recipe names as its teacher without keeping it"),
    Mutant("teacher-digest-cached-by-path", "train/teachers.py",
           "    return _digest_of(str(path.resolve()), st.st_size, st.st_mtime_ns)",
           "    return _digest_of(str(path.resolve()), 0, 0)",
           ("tests/train/test_teachers.py::test_a_model_file_is_pinned_by_its_digest",),
           "a model file replaced at its path keeps its old digest: a new model passes for the teacher it replaced"),
    Mutant("latency-ratio-other-variant", "benchmarks/latency.py",
           'base = next((r for r in rows if r["variant"] == row["variant"] and r["format"] == REFERENCE_FORMAT',
           'base = next((r for r in rows if r["format"] == REFERENCE_FORMAT',
           ("tests/benchmarks/test_latency.py",),
           "the weighted int8 model is timed against the unweighted float32 one"),
    Mutant("latency-warmup-timed", "benchmarks/latency.py",
           "    samples: list[float] = []\n", "    samples: list[float] = [0.0] * settings.warmup\n",
           ("tests/benchmarks/test_latency.py",),
           "the warm-up calls (first-call allocation) count in the medians"),
    Mutant("compare-crops-unjudged", "benchmarks/compare.py",
           "        if delta < -rule.crop_tolerance_pp:", "        if False:",
           ("tests/benchmarks/test_compare.py::test_a_candidate_worse_on_the_detectors_crops_is_kept_out",),
           "a flip-only student ships although it is worse than the shipped model on the detector's crops"),
    Mutant("compare-cost-unjudged", "benchmarks/compare.py",
           "        if cost[\"ratio\"] > rule.max_cost_ratio:", "        if False:",
           ("tests/benchmarks/test_compare.py::test_a_candidate_that_costs_the_device_too_much_is_kept_out",),
           "a student twice as wide ships although it costs the device more than the issue allows"),
    Mutant("compare-share-bounds-the-shipped-cost", "benchmarks/compare.py",
           "and cost[\"ratio\"] > rule.same_cost_ratio:", ":",
           ("tests/benchmarks/test_compare.py::test_the_frame_share_bounds_a_costlier_candidate_not_one_at_the_shipped_cost",),
           "a student of the shipped architecture is kept out because a busy detector run put the shipped network's "
           "own share over a quarter"),
    Mutant("compare-weighted-balance-unjudged", "benchmarks/compare.py",
           "        if delta < rule.min_balanced_delta_pp:", "        if False:",
           ("tests/benchmarks/test_compare.py::test_a_new_weighted_model_alone_is_judged_on_the_weighted_variant_and_its_balance",),
           "a weighted model ships on accuracy it bought by giving up the class weights' purpose"),
    Mutant("compare-camera-shortfall-unjudged", "benchmarks/compare.py",
           "        within = shortfall <= rule.max_shortfall_pp", "        within = True",
           ("tests/benchmarks/test_compare.py::test_a_model_for_the_camera_ships_on_the_crops_without_losing_publictest",),
           "a model made for the camera ships with its crops further than 1 pp from its dataset crops"),
    Mutant("compare-camera-crop-gain-unjudged", "benchmarks/compare.py",
           "        ship = _camera(head.get(\"crops\"), rule, reasons) and ship",
           "        _camera(head.get(\"crops\"), rule, reasons)",
           ("tests/benchmarks/test_compare.py::test_a_model_for_the_camera_ships_on_the_crops_without_losing_publictest",),
           "a model made for the camera ships without being better on the camera's crops"),
    Mutant("compare-camera-rule-ignored", "benchmarks/compare.py",
           "        return asked, RULES[asked][0]", "        pass",
           ("tests/benchmarks/test_compare.py::test_the_camera_rule_is_asked_for_by_name_and_never_picked",
            "tests/benchmarks/test_compare.py::test_the_camera_rule_asked_for_on_the_command_line_judges_and_is_reported"),
           "a comparison asked to apply the camera rule silently applies another"),
    Mutant("carry-adam-moments-dropped", "train/carry.py",
           "                variable.assign(value)", "                pass",
           ("tests/train/test_carry.py::test_an_adamw_run_is_carried_with_its_moments_and_resumes_with_them",),
           "an AdamW run carried to a new checkout resumes with its moments at zero: steps several times too large"),
    Mutant("study-plan-carried-ignored", "train/pipeline.py",
           "        return carried.epoch", "        return len(log)",
           ("tests/train/test_study.py::test_plan_counts_a_carried_runs_epochs_as_done",),
           "the study's plan counts a carried run's epochs as still to train: hours overstated in a new checkout"),
    Mutant("compare-weighted-rule-unpicked", "benchmarks/compare.py",
           "    return \"weighted student\", WEIGHTED_RULE", "    return \"student\", RULE",
           ("tests/benchmarks/test_compare.py::test_the_rule_follows_which_float_models_are_new",
            "tests/benchmarks/test_compare.py::test_a_new_weighted_float_model_beside_the_shipped_unweighted_one_gets_the_weighted_rule"),
           "a new weighted model beside the shipped unweighted one is judged on the unweighted gain it cannot have"),
    Mutant("compare-size-unjudged", "benchmarks/compare.py",
           "        if size[\"projected_mib\"] >= rule.max_models_mib:", "        if False:",
           ("tests/benchmarks/test_compare.py::test_a_candidate_that_would_make_the_models_too_heavy_is_kept_out",),
           "a student of twice the parameters ships although the eight model files would weigh 17 MiB"),
    Mutant("compare-size-compared-formats-only", "benchmarks/compare.py",
           "    total = sum(candidate.get(key, size * ratios.get(key[0], fallback)) for key, size in shipped.items())",
           "    total = sum(candidate.get(key, size) for key, size in shipped.items())",
           ("tests/benchmarks/test_compare.py::test_the_projected_folder_takes_the_candidates_files_and_scales_the_rest",),
           "the formats the candidate was not converted to are counted at the shipped size"),
    Mutant("compare-cost-one-side-timed", "benchmarks/compare.py",
           "    for _ in range(rounds):\n        for side, classifier in classifiers.items():",
           "    for side, classifier in classifiers.items():\n"
           "        for _ in range(rounds if side == \"shipped\" else 1):",
           ("tests/benchmarks/test_compare.py::test_the_cost_is_both_classifiers_timed_alike",),
           "the candidate is timed in fewer rounds than the shipped model: the machine's noise falls on one side"),
    Mutant("resume-replays-first-epochs", "train/batches.py",
           "    return seed if epochs_done <= 0 else seed + RESUME_SEED_STRIDE * epochs_done",
           "    return seed",
           ("tests/train/test_training.py::test_a_resumed_run_shuffles_and_augments_on_a_stream_of_its_own",
            "tests/train/test_training.py::test_resume_after_kill"),
           "a resumed run sees its first epochs' batches again, in the same order: a large model memorises them"),
    Mutant("resume-stream-not-wired", "train/trainer.py",
           "    data_seed = stream_seed(spec.seed, len(history))", "    data_seed = spec.seed",
           ("tests/train/test_training.py::test_resume_after_kill",),
           "the trainer resumes on the run's own seed: the replay is back"),
    Mutant("teacher-views-pin-ignored", "train/teachers.py",
           "        return self.views or default\n", "        return default\n",
           ("tests/train/test_teachers.py::test_distillation_and_the_ensemble_use_a_pinned_teachers_views",),
           "a teacher named with @tencrop is averaged over the recipe's views: the student learns another ensemble"),
    Mutant("teacher-pin-names-another-run", "convert/pipeline.py",
           '        name = without_views(pending.pop(0) or "")', '        name = pending.pop(0)',
           ("tests/convert/test_budget.py::test_a_teachers_pinned_views_name_the_same_run_and_model_file",),
           "a pinned teacher's training time is missing from the shipped model's budget"),
    Mutant("tradeoff-verdict-fixed", "core/balance.py",
           "    elif cost_pp <= 0:", "    elif True:",
           ("tests/benchmarks/test_tradeoff.py::test_answer_picks_the_least_tau_that_reaches_the_weighted_models_balance",),
           "the README says the knob can replace the weighted model where that model is more accurate at the same "
           "balance"),
    Mutant("budget-soup-time-unknown", "convert/pipeline.py",
           'parts = [f"{name} ({wall / 60:.0f} min)" if wall is not None else',
           'parts = [f"{name} ({wall / 60:.0f} min)" if wall else',
           ("tests/convert/test_budget.py::test_a_weight_average_needed_first_counts_no_time_not_an_unknown_one",),
           "the weight average a weighted model's tails start from is listed as of unknown training time"),
    Mutant("catalog-teacher-pin-dropped", "train/catalog.py",
           "        labels.append(f\"{without_views(name)}@{views}\")",
           "        labels.append(f\"{without_views(name)}@{recipe.teacher_views}\")",
           ("tests/train/test_catalog.py::test_teachers_show_their_pinned_views_else_the_recipes",),
           "the recipe table shows a pinned teacher with the recipe's views, not the ones it is averaged over"),
    Mutant("catalog-shipped-mark-lost", "train/catalog.py",
           "if isinstance(e.get(\"training\"), dict) and e[\"training\"].get(\"recipe\")}",
           "if isinstance(e.get(\"training\"), list) and e[\"training\"].get(\"recipe\")}",
           ("tests/train/test_catalog.py::test_shipped_recipes_come_from_the_manifest",),
           "the recipe table no longer says which recipe made the shipped models"),
    Mutant("readme-block-end-unchecked", "core/readme.py",
           "    if not found or not found_end:", "    if not found:",
           ("tests/core/test_readme.py::test_missing_or_reversed_markers_are_an_error",),
           "a README without the end marker is rewritten from the begin marker on, losing the rest of the file"),
    Mutant("ensemble-pinned-member-cached-per-column", "train/ensemble.py",
           "            if own not in by_views:", "            if kind not in by_views:",
           ("tests/train/test_teachers.py::test_distillation_and_the_ensemble_use_a_pinned_teachers_views",),
           "a pinned member is predicted again for every column of the ensemble report (ten views each time)"),
    Mutant("run-sessions-forgotten", "train/trainer.py",
           '        "sessions": [*recorded_sessions(out), session],', '        "sessions": [session],',
           ("tests/train/test_training.py::test_resume_after_kill",),
           "a resumed run's config.json forgets the processes that trained it before"),
    Mutant("kept-targets-with-a-run-teacher", "train/distill.py",
           "if resolved and all(not t.is_run and t.path.resolve().is_relative_to(home) for t in resolved):",
           "if resolved and any(not t.is_run for t in resolved):",
           ("tests/train/test_distillation.py::test_predictions_of_committed_model_teachers_are_kept_in_the_repository",),
           "predictions that depend on an uncommitted run or a file outside the project are written into the "
           "repository as if they could be committed"),
    Mutant("keep-model-with-optimiser", "train/archive.py",
           "        _keep_model(run / \"best.keras\", dest / \"best.keras\")",
           "        atomic_write_bytes(dest / \"best.keras\", (run / \"best.keras\").read_bytes())",
           ("tests/train/test_archive.py::test_a_kept_model_predicts_as_the_run_did_without_its_optimiser",),
           "a kept model carries its optimiser state: three times the bytes to commit"),
    Mutant("keep-unfinished-run", "train/archive.py",
           "    if not evaluated(run, ref.epochs):\n        raise KeepError(",
           "    if False:\n        raise KeepError(",
           ("tests/train/test_archive.py::test_keep_refuses_an_unfinished_or_misnamed_run_before_writing",),
           "a run still training is kept as if it had finished"),
    Mutant("convert-teacher-name-wrong-model", "convert/__main__.py",
           'if e["format"] in ("float32", "float16") else ""', 'if e["format"] == "int8" else ""',
           ("tests/convert/test_convert.py::test_no_mirror_converts_one_view_per_face",),
           "convert no longer tells how to name the float models it wrote as teachers"),
    Mutant("plateau-rule-dropped", "train/trainer.py",
           "        *_schedule_callbacks(keras, recipe),\n", "",
           ("tests/train/test_training.py::test_a_plateau_recipe_trains_with_reduce_on_plateau_and_erasing",),
           "a plateau recipe trains at its first learning rate throughout"),
    # --- training on a lent GPU machine
    Mutant("gpu-backup-dropped-from-partial-run", "train/gpu.py",
           "if not f.is_file() or (lean and SKIP & set(rel.parts)):",
           "if not f.is_file() or SKIP & set(rel.parts):",
           ("tests/train/test_gpu.py::test_a_partial_run_keeps_its_backup_to_resume_from",),
           "a run stopped by the job's timeout comes back without its backup and would restart at epoch 1"),
    Mutant("packed-part-unchecked", "core/fileio.py",
           'if hashlib.sha256(data).hexdigest() != entry["sha256"]:', "if False:",
           ("tests/core/test_packed.py::test_a_damaged_part_is_named_before_decoding",
            "tests/train/test_gpu.py::test_a_damaged_or_missing_chunk_is_named_and_nothing_is_written"),
           "a damaged data part is decoded (or trained on) instead of named"),
    # --- the web view's page and the benchmark's canvases
    Mutant("web-page-config-unfilled", "device/web.py",
           "return html.replace(CONFIG_SLOT, json.dumps(config))", "return html",
           ("tests/device/test_web.py::test_the_page_is_self_contained",),
           "the page is served without its labels and colours (the browser shows no bars)"),
    # --- the camera path: the smoothing rules, the framing and its calibration, box decoding; the clip's interval
    Mutant("median-reaction-never-as-zero", "device/smoothing.py",
           "return float(np.median([math.inf if r is None else r for r in reactions_s]))",
           "return float(np.median([0.0 if r is None else r for r in reactions_s]))",
           ("tests/benchmarks/test_steadiness.py",),
           "a change the label never followed counts as followed at once: the median reaction looks quick"),
    Mutant("launcher-model-from-here-only", "deploy/feredge.sh",
           '        with_release_models "$@" # --model models/weighted_int8.tflite works from any folder\n',
           '        args=("$@")\n',
           ("tests/deploy/test_deploy_install.py::test_a_model_of_the_release_is_found_from_any_folder",),
           "feredge demo --model models/<file>.tflite, as README-pi shows it, fails outside the release folder"),
    Mutant("calibrate-out-read-last", "benchmarks/__main__.py",
           "        read_framings(out)  # an existing file must be one to add to, before 600 canvases are detected\n",
           "        pass\n",
           ("tests/benchmarks/test_run.py::test_calibrate_refuses_a_framing_file_it_cannot_add_to_before_detecting",),
           "a broken framing.json is found only after the detector ran over every canvas, as a traceback"),
    Mutant("tradeoff-priors-after-faces", "benchmarks/tradeoff.py",
           "            priors[model.path] = (entry[\"class_priors\"], prior_vector(entry[\"class_priors\"]))\n",
           "            priors[model.path] = (entry[\"class_priors\"], None)\n",
           ("tests/benchmarks/test_tradeoff.py::test_a_manifest_with_unusable_priors_is_refused_before_the_faces_load",),
           "unusable class priors surface only after the faces loaded and a model ran"),
    Mutant("calibration-labels-unmatched", "convert/__main__.py",
           "        if len(y) != len(x):\n", "        if False:\n",
           ("tests/convert/test_convert.py::test_a_calibration_set_that_does_not_fit_is_refused",),
           "a calibration .npz with more labels than images fails as a bare IndexError (fewer: silently fewer images)"),
    Mutant("required-test-always-skips", "tests/needs.py",
           '    if os.environ.get(switch, "").strip() not in ("", "0"):\n', "    if False:\n",
           ("tests/deploy/test_deploy_ci.py::test_a_test_that_needs_the_shared_data_skips_locally_and_fails_on_ci",
            "tests/deploy/test_deploy_ci.py::test_sshd_fixture_fails_instead_of_skipping_when_required"),
           "a test that must run on CI (the data, sshd, the browser) vanishes as a skip there, and CI stays green"),
    Mutant("smoothing-margin-ignored", "device/smoothing.py",
           "average[best] - average[label] <= self.config.margin:", "average[best] - average[label] <= 0.0:",
           ("tests/device/test_smoothing.py",),
           "any class that leads the label at all takes over after the hold: a calm face's label flickers"),
    Mutant("smoothing-hold-ignored", "device/smoothing.py",
           "        if t - self._lead_since >= self.config.hold - TIME_EPS:\n",
           "        if True:\n",
           ("tests/device/test_smoothing.py",),
           "a challenger takes over the first frame it leads by the margin: one confused frame changes the label"),
    Mutant("framing-dy-sign", "device/framing.py",
           "y + h / 2.0 + dy * h", "y + h / 2.0 - dy * h",
           ("tests/device/test_framing.py",),
           "the calibrated crop is moved down where it should move up (off the FER2013 framing)"),
    Mutant("framing-keypoints-not-passed", "device/preprocess.py",
           "framing.square(*_xywh(box), keypoints=getattr(box, \"keypoints\", None))",
           "framing.square(*_xywh(box))",
           ("tests/device/test_framing.py", "tests/benchmarks/test_crops.py"),
           "the device crops every box with the median transform: the keypoint model is fitted and never applied"),
    Mutant("framing-keypoint-bounds-ignored", "device/framing.py",
           "        return min(max(scale, s0), s1), min(max(dx, x0), x1), min(max(dy, y0), y1)\n",
           "        return scale, dx, dy\n",
           ("tests/device/test_framing.py",),
           "one odd set of keypoints (a profile, a hand over the mouth) frames a crop far outside any calibrated face"),
    Mutant("calibrate-keypoints-unchecked", "benchmarks/__main__.py",
           '    if args.keypoints and importlib.util.find_spec("sklearn") is None:\n', "    if False:\n",
           ("tests/benchmarks/test_run.py::test_calibrate_keypoints_without_scikit_learn_says_so_before_detecting",),
           "calibrate --keypoints on a device-only install detects every canvas, then fails as an ImportError"),
    Mutant("calibration-keypoint-model-dropped", "benchmarks/calibrate.py",
           "            result.framing = replace(result.framing, keypoints=model)\n", "",
           ("tests/benchmarks/test_calibrate.py",),
           "make calibrate fits the keypoint model, records its R^2 and writes the median alone"),
    Mutant("blazeface-letterbox-origin-dropped", "device/blazeface.py",
           "            corners = box.reshape(2, 2) * to_frame + origin\n",
           "            corners = box.reshape(2, 2) * to_frame\n",
           ("tests/device/test_blazeface.py",),
           "boxes stay in letterboxed input coordinates: on a non-square frame every face is shifted"),
    Mutant("calibration-mean", "benchmarks/calibrate.py",
           "framing = Framing(*(float(np.median(values[k])) for k",
           "framing = Framing(*(float(np.mean(values[k])) for k",
           ("tests/benchmarks/test_calibrate.py::test_fit_is_the_median_transform_and_one_wild_box_does_not_move_it",),
           "one badly detected face drags the calibrated transform (the fit is the median, robust to outliers)"),
    Mutant("calibration-dy-sign", "benchmarks/calibrate.py",
           "dy = np.array([((t.y + t.h / 2) - (b.y + b.h / 2)) / b.h for b, t in pairs], np.float64)",
           "dy = np.array([((b.y + b.h / 2) - (t.y + t.h / 2)) / b.h for b, t in pairs], np.float64)",
           ("tests/benchmarks/test_calibrate.py",),
           "the fitted centre offset points the wrong way: every calibrated crop slides off the face"),
    Mutant("detector-share-inverted", "benchmarks/calibrate.py",
           "out[p] = (within / dof) / total if total > 0 and dof > 0 else 0.0",
           "out[p] = 1.0 - (within / dof) / total if total > 0 and dof > 0 else 0.0",
           ("tests/benchmarks/test_calibrate.py::test_detector_share_is_the_variance_between_placements_of_one_face",),
           "the faces' own framing is reported as the detector's noise and the other way round"),
    Mutant("clustered-interval-frames", "benchmarks/stats.py",
           "    se = math.sqrt(k / (k - 1) * float(np.sum((totals_a - r * n) ** 2))) / float(n.sum())\n",
           "    se = math.sqrt(r * (1 - r) / float(n.sum())) if 0 <= r <= 1 else 0.0\n",
           ("tests/benchmarks/test_stats.py",),
           "the interval counts frames as independent (too narrow when a face's frames stand or fall together)"),
    Mutant("canvas-alpha-inverted", "benchmarks/canvas.py",
           "np.clip(a * patch + (1.0 - a) * region, 0, 255)", "np.clip((1.0 - a) * patch + a * region, 0, 255)",
           ("tests/benchmarks/test_canvas.py::test_paste_blends_by_alpha_in_place",),
           "faces are blended in inside out: the feathered edge opaque, the face itself transparent"),
    # --- the frame loop's pacing
    Mutant("pacing-holds-a-camera", "device/loop.py",
           "        paced = self.options.speed > 0 and not source.live\n", "        paced = self.options.speed > 0\n",
           ("tests/device/test_loop.py::test_a_live_source_is_never_paced",),
           "a camera's frames are held back to a media time they do not have: the view lags behind the camera"),
    Mutant("pacing-drops-the-last-still", "device/loop.py",
           "            if self.pacer is not None and self.stills and self.frames:", "            if False:",
           ("tests/device/test_loop.py::test_stills_are_shown_their_seconds_each_the_last_one_too",),
           "the last image of a folder (or a single photo) closes as soon as it is shown"),
    # --- the device's crops of the training faces (core.devicecrops, benchmarks.crops, train.batches)
    Mutant("device-crops-digest-unchecked", "core/devicecrops.py",
           "        if digest != crops.images_sha256:", "        if False:",
           ("tests/core/test_devicecrops.py::test_crops_of_other_images_are_refused_naming_the_file",),
           "a recipe trains on crops cut from other images, row i beside another face's targets"),
    Mutant("alternates-ignore-availability", "train/batches.py",
           "        return self.available[index] & (draws < self.share)", "        return draws < self.share",
           ("tests/train/test_batches.py::test_alternates_replace_only_available_images_and_keep_their_targets",),
           "a face the detector missed is swapped for its empty (black) crop"),
    Mutant("alternates-same-each-epoch", "train/batches.py",
           "self._mix_rng.random(len(take))", "np.random.default_rng(0).random(len(self.arrays[0]))[take]",
           ("tests/train/test_batches.py::test_alternates_are_drawn_anew_each_epoch_at_their_share",),
           "the same images are swapped every epoch: half the faces never seen on the dataset's crop"),
    Mutant("tf-alternates-ignore-share", "train/batches.py",
           "            use = tf.logical_and(available, u < alternates.share)", "            use = available",
           ("tests/train/test_batches.py::test_the_tf_data_pipeline_swaps_alternates_alike",),
           "the tf.data pipeline swaps every available image whatever the recipe's share"),
    Mutant("training-crops-first-box", "benchmarks/crops.py",
           "                best = max(boxes, key=truth.iou, default=None)\n",
           "                best = boxes[0] if boxes else None\n",
           ("tests/benchmarks/test_crops.py::test_training_crops_cut_each_face_from_its_first_canvas_found",),
           "a false box listed first is cut instead of the face beside it"),
    # --- the lent GPU machine's job
    Mutant("stop-request-ignored", "train/trainer.py",
           "        if STOP_ASKED.is_set():", "        if False:",
           ("tests/train/test_cli.py::test_a_stop_whose_interrupt_was_discarded_still_stops_training",),
           "a SIGTERM whose interrupt Python discarded is lost: the GPU job trains past its limit"),
    Mutant("compiled-augment-same-draws", "train/batches.py",
           "            y, self._state = self._compiled(self._state, x)",
           "            y, _ = self._compiled(self._state, x)",
           ("tests/train/test_batches.py::test_on_jax_the_augmenter_is_one_compiled_call_with_new_draws_each_batch",),
           "on JAX every batch gets the same transforms: the seed states never move on"),
    Mutant("best-only-keeps-backup", "train/gpu.py",
           'lean = (folder / "metrics.json").is_file() or not resumable', 'lean = (folder / "metrics.json").is_file()',
           ("tests/train/test_gpu.py::test_best_only_brings_a_partial_run_back_lean_without_its_backup",),
           "a stopped large teacher comes back with its backup and optimiser slots: over what one call hands back"),
    Mutant("job-steps-not-split", "train/gpu_job.sh",
           """mapfile -t steps < <(printf '%s\\n' "$1" | sed 's/ :: /\\n/g')""",
           """mapfile -t steps < <(printf '%s\\n' "$1")""",
           ("tests/train/test_gpu.py::test_the_job_script_trains_argument_groups_side_by_side_each_in_steps",),
           "a group's steps reach train as one command line, '::' and all"),
    Mutant("soup-first-member", "train/trainer.py",
           "model.set_weights([np.mean(np.stack(group), axis=0) for group in zip(*weights, strict=True)])",
           "model.set_weights(weights[0])",
           ("tests/train/test_soup.py::test_a_soup_trains_its_members_first_and_is_their_mean_and_follows_them",),
           "a soup is its first member, not the mean of its members"),
    Mutant("soup-stale-reused", "train/trainer.py",
           "if not checkpoint.is_file() or digests.get(name) != sha256_file(checkpoint):",
           "if not checkpoint.is_file():",
           ("tests/train/test_soup.py::test_a_soup_trains_its_members_first_and_is_their_mean_and_follows_them",),
           "a finished soup is reused after a member was retrained: it averages checkpoints that are gone"),
    Mutant("layer-error-not-in-steps", "convert/layers.py",
           "rmse_steps=_steps(math.sqrt(max(_number(row[\"mean_squared_error\"]), 0.0)), scale),",
           "rmse_steps=math.sqrt(max(_number(row[\"mean_squared_error\"]), 0.0)),",
           ("tests/convert/test_layers.py::test_every_quantised_tensor_is_reported_and_a_plain_model_only_rounds",),
           "the layer report gives errors in activation units, not quantisation steps: rounding looks like nothing"),
)


def _copy_tree(dst: Path) -> None:
    """The working tree as git sees it (tracked + untracked, not ignored), with the venv linked, not copied."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    if (ROOT / ".venv").exists():
        (dst / ".venv").symlink_to(ROOT / ".venv")


def run_mutant(m: Mutant, tree: Path, timeout: float) -> tuple[str, float, str]:
    """(outcome, seconds, tail of the test output): killed (a test failed), survived (all passed), error (the tests
    could not run: counts as not killed), stale (the mutant no longer applies) or timeout."""
    path = tree / m.file
    original = path.read_text()
    if original.count(m.old) != 1:
        return "stale", 0.0, f"{m.file}: the mutated text occurs {original.count(m.old)} times, expected once"
    path.write_text(original.replace(m.old, m.new))
    # PYTHONPATH: the copy's packages come before the editable install's (subprocesses the tests start included)
    env = {**os.environ, "FEREDGE_CACHE": str(tree / ".cache-mutation"), "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": str(tree)}
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *m.tests],
                              cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
        text = proc.stdout + proc.stderr
        failed = re.search(r"\b\d+ failed\b", text) is not None  # a test failed, not a collection or import error
        outcome = {0: "survived", 5: "stale"}.get(proc.returncode, "killed" if failed else "error")
        tail = text[-600:]
    except subprocess.TimeoutExpired:
        outcome, tail = "timeout", f"no result within {timeout:.0f} s"
    finally:
        path.write_text(original)
    return outcome, time.perf_counter() - started, tail


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tests/mutation.py", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--only", nargs="+", default=None, metavar="NAME", help="run these mutants only")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per mutant")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if args.only is None or m.name in args.only]
    unknown = sorted(set(args.only or ()) - {m.name for m in MUTANTS})
    if unknown:
        print(f"error: unknown mutant(s) {unknown}; --list shows them", file=sys.stderr)
        return 2
    if args.list:
        for m in chosen:
            print(f"{m.name:32s} {m.file:28s} {m.why}")
        return 0
    with tempfile.TemporaryDirectory(prefix="feredge-mutation-") as tmp:
        tree = Path(tmp)
        _copy_tree(tree)
        results = []
        for m in chosen:
            outcome, seconds, tail = run_mutant(m, tree, args.timeout)
            results.append((m, outcome))
            print(f"{outcome:9s} {m.name:32s} {seconds:6.1f} s  {m.why}", flush=True)
            if outcome != "killed":
                print("    " + tail.strip().replace("\n", "\n    "), flush=True)
    survived = [m.name for m, o in results if o in ("survived", "timeout", "error")]
    stale = [m.name for m, o in results if o == "stale"]
    print(f"{len(results) - len(survived) - len(stale)} of {len(results)} mutants killed"
          + (f"; survived: {', '.join(survived)}" if survived else "")
          + (f"; stale: {', '.join(stale)}" if stale else ""))
    return 1 if survived else 2 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
