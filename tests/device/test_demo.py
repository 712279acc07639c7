"""``python -m device``: headless JSON lines, stop conditions, recording, and one-line errors with exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from device import demo
from device.__main__ import main
from device.demo import DemoOptions, default_model_path, run_demo
from device.pipeline import STAGES
from device.sources import CameraError, Frame

TIMINGS = {"capture", *STAGES, "draw"}


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_cli_headless_on_a_video(repo_root, tmp_path, any_model, astronaut_video, astronaut_face_center) -> None:
    env = {**os.environ, "PYTHONPATH": str(repo_root)}
    cmd = [
        sys.executable,
        "-m",
        "device",
        "--source",
        str(astronaut_video),
        "--model",
        str(any_model),
        "--headless",
        "--max-frames",
        "4",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = json_lines(proc.stdout)
    assert [line["frame"] for line in lines] == [0, 1, 2, 3]
    for line in lines:
        assert set(line["timings_ms"]) == TIMINGS
        # Haar at 320 px sometimes adds a false positive on the suit: find the astronaut's face by its place
        (face,) = [f for f in line["faces"] if abs(f["box"][0] + f["box"][2] / 2 - astronaut_face_center[0]) < 30]
        assert face["label"] in face["probabilities"] and 0 <= face["score"] <= 1 and face["track_id"] == 0
    assert "summary: 4 frames" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_sigint_ends_cleanly_with_a_summary(repo_root: Path, tmp_path: Path, float_model: Path) -> None:
    video = tmp_path / "long.avi"
    noise = np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8)  # slow to scan for faces
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 160))
    for i in range(600):  # several seconds of work: SIGINT arrives long before the end
        writer.write(np.roll(noise, i, axis=0))
    writer.release()
    env = {**os.environ, "PYTHONPATH": str(repo_root)}
    cmd = [sys.executable, "-m", "device", "--source", str(video), "--model", str(float_model), "--headless"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        first = proc.stdout.readline()  # running
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert json.loads(first)["frame"] == 0
    assert proc.returncode == 0 and "stopped: interrupted" in err and "Traceback" not in err, err
    assert all(json.loads(line) for line in out.splitlines())  # no half-written line


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_video_end_is_a_clean_stop(capsys, float_model: Path, astronaut_video: Path) -> None:
    rc, out, err = run_main(
        capsys,
        "--source",
        str(astronaut_video),
        "--model",
        str(float_model),
        "--headless",
        "--max-frames",
        "100",
        "--smoothing",
        "0.5",
    )
    assert rc == 0 and len(json_lines(out)) == 6
    assert "stopped: end-of-stream" in err


def test_mirror_average_flag_reaches_the_classifier(monkeypatch, capsys, float_model: Path, astronaut_video: Path):
    from device import demo

    seen = []
    real = demo.EmotionClassifier

    def spy(options):
        seen.append(options)
        return real(options)

    monkeypatch.setattr(demo, "EmotionClassifier", spy)
    rc, out, _ = run_main(capsys, "--source", str(astronaut_video), "--model", str(float_model), "--headless",
                          "--max-frames", "2", "--mirror-average")
    assert rc == 0 and len(json_lines(out)) == 2
    assert [o.mirror_average for o in seen] == [True]


def test_no_display_falls_back_to_headless(monkeypatch, capsys, float_model: Path, astronaut_video: Path) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    rc, out, err = run_main(capsys, "--source", str(astronaut_video), "--model", str(float_model), "--max-frames", "1")
    assert rc == 0 and len(json_lines(out)) == 1 and "no display" in err and "running headless" in err


def test_gui_less_opencv_falls_back_to_headless(monkeypatch, capsys, float_model: Path, astronaut_video: Path) -> None:
    if "GUI:" not in cv2.getBuildInformation() or "NONE" not in cv2.getBuildInformation().split("GUI:")[1][:40]:
        pytest.skip("this OpenCV has a GUI backend")
    monkeypatch.setenv("DISPLAY", ":99")
    rc, out, err = run_main(capsys, "--source", str(astronaut_video), "--model", str(float_model), "--max-frames", "1")
    assert rc == 0 and len(json_lines(out)) == 1 and "no GUI" in err


def test_record(capsys, tmp_path: Path, float_model: Path, astronaut_video: Path) -> None:
    out_path = tmp_path / "out.mp4"
    rc, out, _ = run_main(
        capsys,
        "--source",
        str(astronaut_video),
        "--model",
        str(float_model),
        "--headless",
        "--max-frames",
        "3",
        "--record",
        str(out_path),
    )
    assert rc == 0 and len(json_lines(out)) == 3
    capture = cv2.VideoCapture(str(out_path))
    frames = 0
    while capture.read()[0]:
        frames += 1
    capture.release()
    assert frames == 3 and not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize(
    ("model", "source", "message"),
    [
        ("missing.tflite", "video", "missing.tflite: file not found"),
        ("truncated.tflite", "video", "truncated.tflite: not a valid TFLite model"),
        ("float", "nowhere.mp4", "nowhere.mp4' : no such file".replace(" :", ":")),
        ("float", "97", "camera index 97: cannot be opened"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, float_model, astronaut_video, model, source, message):
    (tmp_path / "truncated.tflite").write_bytes(float_model.read_bytes()[:300])
    model_path = float_model if model == "float" else tmp_path / model
    source_spec = (
        str(astronaut_video) if source == "video" else (source if source.isdigit() else str(tmp_path / source))
    )
    rc, out, err = run_main(capsys, "--source", source_spec, "--model", str(model_path), "--headless")
    assert rc == 2 and out == ""
    assert message in err and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err


def test_bad_flag_exits_2(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--threads", "0"])
    assert info.value.code == 2 and "--threads" in capsys.readouterr().err


def test_default_model_is_relative_to_the_project_not_the_cwd(monkeypatch, tmp_path: Path, repo_root: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_model_path() == repo_root / "models" / "unweighted_int8.tflite"
    assert DemoOptions().model == default_model_path()


class FakeLiveSource:
    """A live source that yields ``frames`` blank frames, then fails (CameraError) or is interrupted."""

    live, fps, name = True, 30.0, "camera index 0"

    def __init__(self, frames: int | None, fail: type[BaseException] = CameraError) -> None:
        self.left, self.fail, self.closed, self.count = frames, fail, False, 0

    def read(self) -> Frame:
        if self.left is not None and self.left <= 0:
            raise self.fail(f"camera index 0: no frame at frame {self.count} (camera disconnected or stopped)")
        if self.left is not None:
            self.left -= 1
        self.count += 1
        return Frame(self.count - 1, np.zeros((120, 160, 3), np.uint8), None, 0.0)

    def close(self) -> None:
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def fake_opener(monkeypatch, sources: list) -> list:
    """Make the demo's open_source hand out ``sources`` in order (an exception instance is raised instead)."""
    handed: list = []

    def open_source(spec, width=None, height=None):
        item = sources.pop(0)
        if isinstance(item, BaseException):
            raise item
        handed.append(item)
        return item

    monkeypatch.setattr(demo, "open_source", open_source)
    return handed


def options(model: Path, **kwargs) -> DemoOptions:
    return DemoOptions(source="0", model=model, headless=True, retry_delay=0.0, **kwargs)


def test_camera_lost_exits_1(monkeypatch, capsys, float_model: Path) -> None:
    handed = fake_opener(monkeypatch, [FakeLiveSource(2)])
    summary = run_demo(options(float_model))
    assert summary.exit_code == 1 and summary.frames == 2 and summary.stop_reason == "error"
    assert "camera index 0: no frame at frame 2" in summary.error and handed[0].closed
    assert len(json_lines(capsys.readouterr().out)) == 2


def test_camera_recovers_after_retry(monkeypatch, capsys, float_model: Path) -> None:
    fake_opener(monkeypatch, [FakeLiveSource(2), FakeLiveSource(None)])
    summary = run_demo(options(float_model, retries=2, max_frames=5))
    out, err = capsys.readouterr()
    assert summary.exit_code == 0 and summary.frames == 5 and "retry 1/2" in err
    assert [line["frame"] for line in json_lines(out)] == [0, 1, 2, 3, 4]


def test_camera_gone_after_retries(monkeypatch, capsys, float_model: Path) -> None:
    gone = CameraError("camera index 0: cannot be opened (no such camera, or it is busy)")
    fake_opener(monkeypatch, [FakeLiveSource(1), gone, gone])
    summary = run_demo(options(float_model, retries=2))
    assert summary.exit_code == 1 and summary.frames == 1 and "cannot be opened" in summary.error
    assert capsys.readouterr().err.count("retry ") == 2


def test_ctrl_c_ends_cleanly(monkeypatch, capsys, float_model: Path) -> None:
    handed = fake_opener(monkeypatch, [FakeLiveSource(3, fail=KeyboardInterrupt)])
    rc, out, err = run_main(capsys, "--model", str(float_model), "--headless")
    assert rc == 0 and len(json_lines(out)) == 3 and handed[0].closed
    assert "summary: 3 frames" in err and "stopped: interrupted" in err


def test_duration_stops(monkeypatch, capsys, float_model: Path) -> None:
    fake_opener(monkeypatch, [FakeLiveSource(None)])
    summary = run_demo(options(float_model, duration=0.2))
    assert summary.stop_reason == "duration" and summary.frames >= 1 and summary.mean_fps > 0


def test_mirror_average_on_a_model_that_mirrors_in_its_graph_is_skipped_with_a_note(
        monkeypatch, capsys, tmp_path: Path, float_model: Path, astronaut_video: Path):
    import shutil

    from device.fileio import atomic_write_json, sha256_file

    model = tmp_path / "m.tflite"
    shutil.copyfile(float_model, model)
    atomic_write_json(tmp_path / "manifest.json",
                      {"models": [{"file": "m.tflite", "sha256": sha256_file(model), "mirror_average": True}]})
    rc, out, err = run_main(capsys, "--source", str(astronaut_video), "--model", str(model), "--headless",
                            "--max-frames", "1", "--mirror-average")
    assert rc == 0 and len(json_lines(out)) == 1
    assert "already averages each face with its mirror image" in err and "skipped" in err
