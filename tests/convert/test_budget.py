"""A distilled model's budget in the manifest names its teacher runs and their training time."""

from __future__ import annotations

import json

from convert.pipeline import _training_info


def _run(folder, config: dict, metrics: dict):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "best.keras").write_bytes(b"")
    return folder / "best.keras"


def test_budget_includes_the_teachers(tmp_path):
    runs = tmp_path / "runs"
    _run(runs / "wide-40ep" / "unweighted-seed0", {"recipe": {"name": "wide", "epochs": 40}},
         {"train_wall_s": 4620.0, "splits": {}})
    ckpt = _run(runs / "distilled-60ep" / "unweighted-seed0",
                {"recipe": {"name": "distilled", "epochs": 60}, "host": "h", "threads": 2, "gpus": [],
                 "teachers": {"runs": ["wide-40ep/unweighted-seed0", "compact-50ep/unweighted-seed0"]}},
                {"train_wall_s": 6000.0, "completed_epochs": 60, "best_epoch": 55, "splits": {}})
    info = _training_info(ckpt)
    assert info["budget"] == (
        "60 epochs of the distilled recipe, 100 min wall on 2 CPU thread(s) of h, no GPU, after its teacher runs "
        "wide-40ep/unweighted-seed0 (77 min) and compact-50ep/unweighted-seed0 (time unknown)"
    )
    assert info["teachers"]["runs"][0] == "wide-40ep/unweighted-seed0"


def test_plain_run_budget_has_no_teachers(tmp_path):
    ckpt = _run(tmp_path / "runs" / "wide-40ep" / "weighted-seed0",
                {"recipe": {"name": "wide", "epochs": 40}, "host": "h", "threads": 2, "gpus": []},
                {"train_wall_s": 4620.0, "splits": {}})
    assert _training_info(ckpt)["budget"] == "40 epochs of the wide recipe, 77 min wall on 2 CPU thread(s) of h, no GPU"
