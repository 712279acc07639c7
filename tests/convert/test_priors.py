"""``python -m convert.priors``: class priors recorded into an existing manifest from the Training split, the model
files untouched, bad input named."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from synthetic import write_fer_csv

from convert.priors import main
from core.manifest import read_manifest, write_manifest


def _models(folder: Path, entries: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for e in entries:
        (folder / e["file"]).write_bytes(b"model bytes of " + e["file"].encode())
    write_manifest(folder, {"models": entries, "command": "python -m convert ..."})
    return folder


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.tflite")}


def test_priors_are_the_training_shares_and_recorded_priors_stay(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    data = write_fer_csv(tmp_path / "fer.csv", {"train": 4, "val": 2}, drop_train={1: 3})  # disgust: 1 of 25
    kept = {"angry": 0.5, "disgust": 0.1, "fear": 0.1, "happy": 0.1, "sad": 0.1, "surprise": 0.05, "neutral": 0.05}
    models = _models(tmp_path / "models", [{"file": "unweighted_int8.tflite"},
                                           {"file": "weighted_int8.tflite", "class_priors": kept}])
    before = _digests(models)
    assert main(["--data", str(data), "--models", str(models)]) == 0
    assert "1 model(s): unweighted_int8.tflite" in capsys.readouterr().out
    entries = {e["file"]: e for e in read_manifest(models)["models"]}
    priors = entries["unweighted_int8.tflite"]["class_priors"]
    assert priors["disgust"] == pytest.approx(1 / 25, abs=1e-6) and priors["happy"] == pytest.approx(4 / 25, abs=1e-6)
    assert sum(priors.values()) == pytest.approx(1.0, abs=1e-5)
    assert "Training split of fer.csv (25 faces)" == entries["unweighted_int8.tflite"]["class_priors_source"]
    assert entries["weighted_int8.tflite"]["class_priors"] == kept  # recorded ones stay without --force
    assert read_manifest(models)["command"] == "python -m convert ..."  # the rest of the manifest as it was
    assert _digests(models) == before

    assert main(["--data", str(data), "--models", str(models), "--force"]) == 0
    assert read_manifest(models)["models"][1]["class_priors"] == priors
    assert _digests(models) == before


def test_nothing_to_change_leaves_the_manifest_file_alone(tmp_path: Path) -> None:
    data = write_fer_csv(tmp_path / "fer.csv", {"train": 2})
    models = _models(tmp_path / "models", [{"file": "a.tflite", "class_priors": {"angry": 1.0}}])
    stamp = (models / "manifest.json").stat().st_mtime_ns
    assert main(["--data", str(data), "--models", str(models)]) == 0
    assert (models / "manifest.json").stat().st_mtime_ns == stamp


@pytest.mark.parametrize("case", ["no manifest", "broken manifest", "no training split", "a class missing"])
def test_bad_input_is_named_and_nothing_is_written(case: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    models = tmp_path / "models"
    data = write_fer_csv(tmp_path / "fer.csv", {"train": 2})
    if case == "no manifest":
        models.mkdir()
    else:
        _models(models, [{"file": "a.tflite"}])
    if case == "broken manifest":
        (models / "manifest.json").write_text('{"models": [')
    elif case == "no training split":
        data = write_fer_csv(tmp_path / "test-only.csv", {"test": 2})
    elif case == "a class missing":
        data = write_fer_csv(tmp_path / "no-disgust.csv", {"train": 2}, drop_train={1: 2})
    before = (models / "manifest.json").read_bytes() if (models / "manifest.json").exists() else None
    assert main(["--data", str(data), "--models", str(models)]) == 2
    err = capsys.readouterr().err
    named = {"no manifest": "manifest.json", "broken manifest": "manifest.json", "no training split": data.name,
             "a class missing": data.name}[case]
    assert err.startswith("error: ") and named in err, err
    after = (models / "manifest.json").read_bytes() if (models / "manifest.json").exists() else None
    assert after == before
    if before is not None and case != "broken manifest":
        assert "class_priors" not in json.loads(after)["models"][0]


def test_a_training_split_alone_is_enough(tmp_path: Path) -> None:
    data = write_fer_csv(tmp_path / "train-only.csv", {"train": 2})  # no PublicTest rows: not needed for priors
    models = _models(tmp_path / "models", [{"file": "a.tflite"}])
    assert main(["--data", str(data), "--models", str(models)]) == 0
    assert read_manifest(models)["models"][0]["class_priors"]["angry"] == pytest.approx(1 / 7, abs=1e-6)
