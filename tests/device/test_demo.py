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

from core.labels import EMOTIONS
from device import demo
from device.__main__ import main
from device.demo import DemoOptions, default_model_path, run_demo
from device.pipeline import STAGES
from device.smoothing import (
    DEFAULT_LABEL_HOLD_S,
    DEFAULT_LABEL_MARGIN,
    DEFAULT_SETTLE_S,
    DEFAULT_TAU_S,
    LabelSmoother,
)
from device.sources import CameraError, Frame

TIMINGS = {"capture", *STAGES, "draw"}


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_cli_headless_on_a_video(repo_root, tmp_path, any_model, astronaut_video, astronaut_face_center) -> None:
    env = dict(os.environ)  # the project is installed (make setup): no PYTHONPATH
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
    env = dict(os.environ)  # the project is installed (make setup): no PYTHONPATH
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
    stills = False

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

    from core.fileio import atomic_write_json, sha256_file

    model = tmp_path / "m.tflite"
    shutil.copyfile(float_model, model)
    atomic_write_json(tmp_path / "manifest.json",
                      {"models": [{"file": "m.tflite", "sha256": sha256_file(model), "mirror_average": True}]})
    rc, out, err = run_main(capsys, "--source", str(astronaut_video), "--model", str(model), "--headless",
                            "--max-frames", "1", "--mirror-average")
    assert rc == 0 and len(json_lines(out)) == 1
    assert "already averages each face with its mirror image" in err and "skipped" in err


# ---------------------------------------------------------------- image folders: independent stills


class SameBox:
    """A detector that finds one face at the same place in every frame (a tracker would match them all)."""

    def detect(self, gray, bgr=None):
        from device.detector import Box

        return [Box(8, 8, 48, 48)]


def scores_of(value: int) -> np.ndarray:
    """Distinct scores per gray value: what the stub classifier says about an image filled with ``value``."""
    return np.random.default_rng(value).dirichlet(np.full(7, 0.5)).astype(np.float32)


class ScoresByGray:
    mirrors_in_graph = False

    def __init__(self, options) -> None:
        pass

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        return np.stack([scores_of(int(crop[0, 0])) for crop in crops]) if len(crops) else np.zeros((0, 7))


def stub_models(monkeypatch) -> None:
    monkeypatch.setattr(demo, "make_detector", lambda *args: SameBox())
    monkeypatch.setattr(demo, "EmotionClassifier", ScoresByGray)


def test_a_paced_folder_says_so_and_shows_each_image_its_seconds(monkeypatch, capsys, tmp_path: Path) -> None:
    """--speed on a folder (what a window or the web view gets by default): a note on stderr, and the loop holds
    each image its --still-seconds (the loop's own tests check the timing with a fake clock; here, that the flags
    reach it)."""
    stub_models(monkeypatch)
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"face{i}.png"), np.full((64, 64, 3), 40 * i, np.uint8))
    summary = run_demo(DemoOptions(source=str(tmp_path), headless=True, speed=2.0, still_s=0.5))
    err = capsys.readouterr().err
    assert summary.exit_code == 0 and summary.frames == 3
    assert f"note: playing {tmp_path} each image 0.5 s at 2x" in err, err
    assert summary.elapsed_s >= 3 * 0.25  # three images, a quarter second each, the last one too (a lower bound)
    run_demo(DemoOptions(source=str(tmp_path), headless=True))  # JSON lines alone: unpaced, no note
    assert "note: playing" not in capsys.readouterr().err


def test_images_of_a_folder_are_not_blended(monkeypatch, capsys, tmp_path: Path) -> None:
    """Eight different faces at the same place: each image is reported with exactly its own scores (the tracker
    used to treat them as one face and average them, giving some of them another image's label)."""
    stub_models(monkeypatch)
    values = [20 + 25 * i for i in range(8)]
    for i, value in enumerate(values):
        cv2.imwrite(str(tmp_path / f"face{i}.png"), np.full((64, 64, 3), value, np.uint8))
    summary = run_demo(DemoOptions(source=str(tmp_path), headless=True))  # default smoothing (window 5)
    lines = json_lines(capsys.readouterr().out)
    assert summary.exit_code == 0 and summary.frames == 8 and len(lines) == 8
    for line, value in zip(lines, values):
        (face,) = line["faces"]
        own = scores_of(value)
        assert list(face["probabilities"].values()) == [round(float(p), 4) for p in own]
        assert face["label"] == EMOTIONS[int(np.argmax(own))]


def test_a_video_is_still_smoothed(monkeypatch, capsys, tmp_path: Path) -> None:
    """The same frames as a video: one face, tracked and averaged (the second frame is not its own scores)."""
    stub_models(monkeypatch)
    video = tmp_path / "two.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 64))
    for value in (20, 220):
        writer.write(np.full((64, 64, 3), value, np.uint8))
    writer.release()
    capture = cv2.VideoCapture(str(video))
    grays = [int(cv2.cvtColor(capture.read()[1], cv2.COLOR_BGR2GRAY)[0, 0]) for _ in range(2)]
    capture.release()
    run_demo(DemoOptions(source=str(video), headless=True))
    first, second = json_lines(capsys.readouterr().out)
    assert first["faces"][0]["track_id"] == second["faces"][0]["track_id"] == 0
    smoother = LabelSmoother()  # the default smoothing: in the video's media time, frames 0.1 s apart
    smoother.update(0.0, scores_of(grays[0]))
    averaged, _ = smoother.update(0.1, scores_of(grays[1]))
    np.testing.assert_allclose(list(second["faces"][0]["probabilities"].values()), averaged, atol=1e-4)


# ---------------------------------------------------------------- undecodable images in a folder


def test_an_undecodable_image_is_skipped_with_a_warning(monkeypatch, capsys, tmp_path: Path) -> None:
    stub_models(monkeypatch)
    for name, value in (("a.png", 20), ("c.png", 120)):
        cv2.imwrite(str(tmp_path / name), np.full((64, 64, 3), value, np.uint8))
    (tmp_path / "b.png").write_bytes(b"\x89PNG truncated")
    rc, out, err = run_main(capsys, "--source", str(tmp_path), "--headless")
    assert rc == 0 and [line["frame"] for line in json_lines(out)] == [0, 1]
    assert f"warning: image {tmp_path / 'b.png'}: cannot be decoded" in err and "skipped" in err
    (summary,) = [line for line in err.splitlines() if line.startswith("summary:")]
    assert "2 frames" in summary and "1 image skipped" in summary and "stopped: end-of-stream" in summary


def test_a_folder_where_nothing_decodes(monkeypatch, capsys, tmp_path: Path) -> None:
    stub_models(monkeypatch)
    for name in ("a.png", "b.jpg"):
        (tmp_path / name).write_bytes(b"not an image")
    rc, out, err = run_main(capsys, "--source", str(tmp_path), "--headless")
    assert rc == 1 and out == ""
    assert f"error: source {tmp_path}: no frames could be read" in err and err.count("warning: image ") == 2
    assert "2 images skipped" in err and "Traceback" not in err


# ---------------------------------------------------------------- flags checked before anything is opened


def nothing_opened(monkeypatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("opened a model or source despite a bad flag")

    monkeypatch.setattr(demo, "build_pipeline", fail)
    monkeypatch.setattr(demo, "open_source", fail)


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--margin", "inf", "0..1"),
        ("--margin", "nan", "0..1"),
        ("--margin", "1e6", "0..1"),
        ("--margin", "-0.1", "0..1"),
        ("--duration", "nan", "not a finite number"),
        ("--duration", "inf", "not a finite number"),
        ("--duration", "-1", ">= 0"),
        ("--retry-delay", "nan", "not a finite number"),
        ("--retry-delay", "inf", "not a finite number"),
        ("--retry-delay", "1e12", "seconds"),
        ("--speed", "-1", ">= 0"),
        ("--speed", "inf", "not a finite number"),
        ("--still-seconds", "0", ">= 0.01"),
    ],
)
def test_bad_numbers_exit_2_naming_the_flag(monkeypatch, capsys, flag: str, value: str, expected: str) -> None:
    nothing_opened(monkeypatch)
    with pytest.raises(SystemExit) as info:
        main(["--headless", flag, value])
    err = capsys.readouterr().err
    assert info.value.code == 2 and f"argument {flag}: " in err and expected in err, err


@pytest.mark.parametrize(("flag", "expected"), [("--model", "a .tflite file"), ("--detector-model", "a YuNet .onnx")])
def test_a_model_that_is_a_directory_exits_2(monkeypatch, capsys, tmp_path: Path, flag: str, expected: str) -> None:
    nothing_opened(monkeypatch)
    with pytest.raises(SystemExit) as info:
        main(["--headless", flag, str(tmp_path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and f"argument {flag}: " in err
    assert "is a directory" in err and expected in err and "not found" not in err, err


def test_help_states_the_margin_range() -> None:
    from device.__main__ import build_parser

    help_text = " ".join(build_parser().format_help().split())
    assert "a plain square margin per side, as a fraction of the face box side, 0..1" in help_text
    assert "override the detector's calibrated framing" in help_text


# ---------------------------------------------------------------- recording


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ("out.mov", "unsupported extension, expected one of .mp4, .avi, .mkv"),
        ("nowhere/out.mp4", "does not exist"),
        ("folder.mp4", "is a directory, expected a video file"),
    ],
)
def test_record_path_errors_exit_2(monkeypatch, capsys, tmp_path: Path, record: str, message: str) -> None:
    nothing_opened(monkeypatch)
    (tmp_path / "folder.mp4").mkdir()
    rc, out, err = run_main(capsys, "--headless", "--record", str(tmp_path / record))
    assert rc == 2 and out == "" and err.startswith("error: record ") and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_record_into_a_read_only_folder_exits_2(monkeypatch, capsys, tmp_path: Path) -> None:
    nothing_opened(monkeypatch)
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):  # root writes anyway: have access(2) answer as it does for other users
            real_access = os.access

            def access(path, mode, **kwargs) -> bool:
                return False if Path(path) == folder else real_access(path, mode, **kwargs)

            monkeypatch.setattr(demo.os, "access", access)
        rc, out, err = run_main(capsys, "--headless", "--record", str(folder / "out.mp4"))
    finally:
        folder.chmod(0o755)
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert f"folder {folder} is not writable" in err and "codec" not in err


def test_record_into_a_read_only_mount_exits_2(monkeypatch, capsys, tmp_path: Path) -> None:
    """Where access(2) says yes but no file can be created (root on a read-only mount): still exit 2 up front."""
    import errno
    import tempfile

    nothing_opened(monkeypatch)

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", read_only)
    rc, out, err = run_main(capsys, "--headless", "--record", str(tmp_path / "out.avi"))
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert f"folder {tmp_path} is not writable (Read-only file system)" in err


class _NoCodecWriter:
    """A cv2.VideoWriter stand-in that, like one without the codec, never opens."""

    def __init__(self, *args) -> None:
        pass

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return False

    def release(self) -> None:
        pass


def test_recorder_tells_an_unwritable_folder_from_a_missing_codec(monkeypatch, tmp_path: Path) -> None:
    frame = np.zeros((48, 64, 3), np.uint8)
    gone = demo.VideoRecorder(tmp_path / "gone" / "out.avi", 10.0)  # the folder vanished after the up-front check
    with pytest.raises(demo.OutputError, match=r"out.avi: cannot write to folder .*gone") as info:
        gone.write(frame)
    assert "codec" not in str(info.value)

    monkeypatch.setattr(demo.cv2, "VideoWriter", _NoCodecWriter)
    recorder = demo.VideoRecorder(tmp_path / "out.mp4", 10.0)
    with pytest.raises(demo.OutputError, match=r"out.mp4: cannot open a video writer \(.mp4 codec missing"):
        recorder.write(frame)
    recorder.close()
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


def test_writer_error_mid_run_exits_1(monkeypatch, float_model: Path, tmp_path: Path) -> None:
    monkeypatch.setattr(demo.cv2, "VideoWriter", _NoCodecWriter)
    handed = fake_opener(monkeypatch, [FakeLiveSource(None)])
    summary = run_demo(options(float_model, record=tmp_path / "out.avi", max_frames=3))
    assert summary.exit_code == 1 and summary.stop_reason == "error" and summary.frames == 0
    assert "cannot open a video writer (.avi codec missing?)" in summary.error and handed[0].closed


def test_recording_that_cannot_be_moved_into_place_exits_1(monkeypatch, float_model: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.avi"

    class Squatter(FakeLiveSource):
        """After the first frame, something else takes the record path (a non-empty folder)."""

        def read(self) -> Frame:
            if self.count == 1:
                target.mkdir()
                (target / "x").write_text("x")
            return super().read()

    fake_opener(monkeypatch, [Squatter(None)])
    summary = run_demo(options(float_model, record=target, max_frames=2))
    assert summary.exit_code == 1 and summary.stop_reason == "error" and summary.frames == 2
    assert f"record {target}: cannot move" in summary.error and ".out.partial.avi" in summary.error


def test_record_images_of_different_sizes(monkeypatch, capsys, tmp_path: Path) -> None:
    """Every image ends up in the video, fitted into the first one's size (OpenCV drops other sizes silently)."""
    stub_models(monkeypatch)
    folder = tmp_path / "images"
    folder.mkdir()
    for name, (height, width) in (("a.png", (96, 128)), ("b.png", (160, 90)), ("c.png", (96, 128))):
        cv2.imwrite(str(folder / name), np.full((height, width, 3), 60, np.uint8))
    out_path = tmp_path / "out.avi"
    rc, out, _ = run_main(capsys, "--source", str(folder), "--headless", "--record", str(out_path))
    assert rc == 0 and len(json_lines(out)) == 3
    capture = cv2.VideoCapture(str(out_path))
    shapes = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        shapes.append(frame.shape)
    capture.release()
    assert shapes == [(96, 128, 3)] * 3


# ---------------------------------------------------------------- stdout closed by its reader


def test_closed_stdout_is_a_clean_stop(monkeypatch, capsys, float_model: Path) -> None:
    """``python -m device | head -1``: the reader goes away, the demo stops with exit 0 and its summary."""
    handed = fake_opener(monkeypatch, [FakeLiveSource(None)])
    read_end, write_end = os.pipe()
    os.close(read_end)
    stdout = os.fdopen(write_end, "w")
    monkeypatch.setattr(sys, "stdout", stdout)
    try:
        rc = main(["--model", str(float_model), "--headless"])
    finally:
        stdout.close()  # after _silence_stdout this fd is /dev/null: closing flushes nowhere, quietly
    err = capsys.readouterr().err
    assert rc == 0 and handed[0].closed and "stopped: stdout-closed" in err and "Traceback" not in err, err
    assert "error:" not in err


# ---------------------------------------------------------------- smoothing flags (time-based, and --smoothing)


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--smooth-tau", "nan", "not a finite number"),
        ("--smooth-tau", "inf", "not a finite number"),
        ("--smooth-tau", "-0.1", "seconds, 0..60"),
        ("--smooth-tau", "1e9", "seconds, 0..60"),
        ("--smooth-tau", "abc", "is not a number of seconds"),
        ("--label-margin", "nan", "not a finite number"),
        ("--label-margin", "-1", "log-probability lead, 0..10"),
        ("--label-margin", "11", "log-probability lead, 0..10"),
        ("--label-hold", "inf", "not a finite number"),
        ("--label-hold", "-0.5", "seconds, 0..60"),
        ("--label-hold", "1e5", "seconds, 0..60"),
        ("--label-settle", "-1", "seconds, 0..60"),
    ],
)
def test_bad_smoothing_numbers_exit_2_naming_the_flag(monkeypatch, capsys, flag: str, value: str, expected: str):
    nothing_opened(monkeypatch)
    with pytest.raises(SystemExit) as info:
        main(["--headless", flag, value])
    err = capsys.readouterr().err
    assert info.value.code == 2 and f"argument {flag}: " in err and expected in err, err


@pytest.mark.parametrize("flags", [["--smooth-tau", "0.3"], ["--label-hold", "0.2", "--label-margin", "1"],
                                   ["--label-settle", "0.5"]])
def test_frame_count_smoothing_and_time_flags_exclude_each_other(monkeypatch, capsys, flags: list[str]) -> None:
    nothing_opened(monkeypatch)
    with pytest.raises(SystemExit) as info:
        main(["--headless", "--smoothing", "5", *flags])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "argument --smoothing: " in err and flags[0] in err, err


def test_help_shows_the_smoothing_flags_and_their_defaults() -> None:
    from device.__main__ import build_parser

    help_text = " ".join(build_parser().format_help().split())
    for flag, default in (("--smooth-tau SECONDS", f"{DEFAULT_TAU_S}"),
                          ("--label-margin NATS", f"{DEFAULT_LABEL_MARGIN}"),
                          ("--label-hold SECONDS", f"{DEFAULT_LABEL_HOLD_S}"),
                          ("--label-settle SECONDS", f"{DEFAULT_SETTLE_S}")):
        start = help_text.index(flag + " ")
        assert f"(default: {default})" in help_text[start : help_text.index("(default:", start) + 20]
    assert "0: off" in help_text and "frame-count smoothing, kept for old scripts" in help_text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], {"smoothing": (DEFAULT_TAU_S, DEFAULT_LABEL_MARGIN, DEFAULT_LABEL_HOLD_S, DEFAULT_SETTLE_S)}),
        (["--smooth-tau", "0.5", "--label-margin", "1.5", "--label-hold", "0.3", "--label-settle", "0.7"],
         {"smoothing": (0.5, 1.5, 0.3, 0.7)}),
        (["--smooth-tau", "0"], {"smoothing": (0.0, DEFAULT_LABEL_MARGIN, DEFAULT_LABEL_HOLD_S, DEFAULT_SETTLE_S)}),
        (["--smoothing", "5"], {"window": 5, "alpha": None}),
        (["--smoothing", "0.3"], {"window": 1, "alpha": 0.3}),
        (["--smoothing", "0"], {"window": 1, "alpha": None}),
    ],
)
def test_smoothing_flags_reach_the_tracker(monkeypatch, capsys, tmp_path: Path, args: list[str], expected) -> None:
    """Default and the time-based flags: a FaceTracker with that SmoothingConfig; --smoothing (kept as it was):
    the frame-count smoothing, a window of frames or a per-frame EMA."""
    stub_models(monkeypatch)
    cv2.imwrite(str(tmp_path / "a.png"), np.full((64, 64, 3), 60, np.uint8))
    made = []
    real = demo.FaceTracker

    def spy(*a, **kwargs):
        made.append(kwargs)
        return real(*a, **kwargs)

    monkeypatch.setattr(demo, "FaceTracker", spy)
    rc, _, _ = run_main(capsys, "--source", str(tmp_path), "--headless", *args)
    assert rc == 0 and len(made) == 1
    (kwargs,) = made
    if "smoothing" in expected:
        config = kwargs["smoothing"]
        assert (config.tau, config.margin, config.hold, config.settle) == expected["smoothing"]
        assert "window" not in kwargs
    else:
        assert kwargs == expected


def test_a_video_is_smoothed_in_its_media_time(monkeypatch, capsys, tmp_path: Path) -> None:
    """A 10 FPS video, read much faster than real time: each face's probabilities and label are the time-based
    smoother's over the frames' media times (0, 0.1, 0.2 s ...); the frame's own arg-max is ``label_raw``."""
    stub_models(monkeypatch)
    video = tmp_path / "twelve.avi"
    values = [20, 20, 20, 20, 220, 20, 20, 220, 220, 220, 220, 220]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 64))
    for value in values:
        writer.write(np.full((64, 64, 3), value, np.uint8))
    writer.release()
    capture = cv2.VideoCapture(str(video))
    grays = [int(cv2.cvtColor(capture.read()[1], cv2.COLOR_BGR2GRAY)[0, 0]) for _ in values]
    capture.release()
    run_demo(DemoOptions(source=str(video), headless=True))
    lines = json_lines(capsys.readouterr().out)
    assert len(lines) == len(values)
    smoother = LabelSmoother()
    for i, (line, gray) in enumerate(zip(lines, grays, strict=True)):
        (face,) = line["faces"]
        expected, label = smoother.update(i / 10, scores_of(gray))
        np.testing.assert_allclose(list(face["probabilities"].values()), expected, atol=1e-4)
        assert face["label"] == EMOTIONS[label] and face["score"] == pytest.approx(float(expected[label]), abs=1e-4)
        assert face["label_raw"] == EMOTIONS[int(np.argmax(scores_of(gray)))]


# ---------------------------------------------------------------- BlazeFace's second look and following faces


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--refine", "0.5", "0 (off) or a multiple of the face box, 1..8"),
        ("--refine", "9", "1..8"),
        ("--refine", "nan", "not a finite number"),
        ("--search-every", "0", "a whole number of frames, 1..1000"),
        ("--search-every", "2.5", "a whole number of frames"),
    ],
)
def test_bad_refine_and_search_every_exit_2_naming_the_flag(monkeypatch, capsys, flag: str, value: str,
                                                            expected: str) -> None:
    nothing_opened(monkeypatch)
    with pytest.raises(SystemExit) as info:
        main(["--headless", flag, value])
    err = capsys.readouterr().err
    assert info.value.code == 2 and f"argument {flag}: " in err and expected in err, err


@pytest.mark.parametrize(
    ("args", "expected"),
    [([], (None, 8)), (["--refine", "0"], (0.0, 8)), (["--refine", "1.5", "--search-every", "1"], (1.5, 1))],
)
def test_refine_and_search_every_reach_the_detector(monkeypatch, capsys, tmp_path: Path, args, expected) -> None:
    stub_models(monkeypatch)
    made = []
    monkeypatch.setattr(demo, "make_detector", lambda *a: made.append(a) or SameBox())
    cv2.imwrite(str(tmp_path / "a.png"), np.full((64, 64, 3), 60, np.uint8))
    rc, _, _ = run_main(capsys, "--source", str(tmp_path), "--headless", *args)
    assert rc == 0 and len(made) == 1
    name, _model, _width, _threads, refine, search_every = made[0]
    assert (name, refine, search_every) == ("blazeface", *expected)
