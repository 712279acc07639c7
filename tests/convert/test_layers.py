"""``python -m convert.layers``: each int8 tensor's own error against the float op, in quantisation steps."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from synthetic import synthetic_images, write_fer_csv

from convert.layers import ROUNDING_RMSE_STEPS, int8_tensor_errors, main
from train.models import build_model
from train.recipes import TINY

# the debugger runs TensorFlow's own interpreter, which warns that it is deprecated in favour of LiteRT
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated")]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    import keras

    path = tmp_path_factory.mktemp("layers") / "tiny.keras"
    keras.utils.set_random_seed(0)
    build_model(TINY).save(path)
    return path


def test_every_quantised_tensor_is_reported_and_a_plain_model_only_rounds(tiny_checkpoint):
    from convert.converter import load_checkpoint

    x, _ = synthetic_images(10, seed=3)
    model = load_checkpoint(tiny_checkpoint)
    errors = int8_tensor_errors(model, x[::2], x[1::2])
    ops = [e.op for e in errors]
    assert "CONV_2D" in ops and "SOFTMAX" in ops and ops.count("CONV_2D") == len(TINY.widths) * TINY.convs[0]
    measured = [e for e in errors if e.scale > 0 and not math.isnan(e.rmse_steps)]
    assert measured and all(0 <= e.rmse_steps < 3 * ROUNDING_RMSE_STEPS for e in measured), errors
    first = next(e for e in errors if e.op == "CONV_2D")  # its inputs are faces: it always rounds
    assert first.rmse_steps > ROUNDING_RMSE_STEPS / 3, "the rounding error shows, in steps"
    # calibrated on faces a quarter as bright, the first convolution clips the real ones: far more than rounding
    dim = int8_tensor_errors(model, (x[::2] // 4).astype(np.uint8), x[1::2])
    clipped = next(e for e in dim if e.op == "CONV_2D")
    assert clipped.rmse_steps > 3 * ROUNDING_RMSE_STEPS, dim


def test_the_cli_writes_the_table_and_json_and_names_a_bad_checkpoint(tmp_path, tiny_checkpoint, capsys):
    data = write_fer_csv(tmp_path / "fer.csv", {"train": 30, "val": 12})
    out = tmp_path / "report"
    assert main(["--checkpoint", str(tiny_checkpoint), "--data", str(data), "--faces", "8",
                 "--calibration-size", "20", "--no-mirror", "--out", str(out)]) == 0
    record = json.loads((out / "layers.json").read_text())
    assert record["split"] == "val" and record["faces"] == 8 and record["calibration_size"] == 20
    rows = [r for r in (out / "layers.md").read_text().splitlines() if r.startswith("| ") and "| op |" not in r]
    assert len(rows) == len(record["tensors"]) > 0
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    assert main(["--checkpoint", str(broken), "--data", str(data), "--out", str(out)]) == 2
    assert str(broken) in capsys.readouterr().err


def test_an_output_folder_that_cannot_be_written_is_refused_first(tmp_path, capsys):
    from convert.layers import main

    (tmp_path / "a-file").write_text("in the way")
    rc = main(["--checkpoint", str(tmp_path / "none.keras"), "--data", str(tmp_path / "fer.csv"),
               "--out", str(tmp_path / "a-file" / "report")])
    err = capsys.readouterr().err
    assert rc == 2 and "--out " in err and "a-file" in err and "none.keras" not in err, err
