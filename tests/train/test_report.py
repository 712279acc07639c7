"""The comparison report's metrics table: each variant's scores, its best epoch and how long and in how many
sessions it trained."""

from __future__ import annotations

from train.report import metrics_table


def _result(sessions: int | None) -> dict:
    split = {"accuracy": 0.6543, "balanced_accuracy": 0.6, "macro_f1": 0.61}
    result = {"splits": {"val": split}, "best_epoch": 38, "completed_epochs": 40, "train_wall_s": 4620.0}
    return result if sessions is None else {**result, "sessions": sessions}


def test_metrics_table_says_when_a_run_trained_over_several_sessions():
    rows = metrics_table({"unweighted": _result(3), "weighted": _result(1), "old": _result(None)}, "val")
    assert rows[2] == "| unweighted | 65.43 | 60.00 | 61.00 | 38/40 | 77.0 min (3 sessions) |"
    assert rows[3].endswith("| 38/40 | 77.0 min |") and rows[4].endswith("| 38/40 | 77.0 min |")
