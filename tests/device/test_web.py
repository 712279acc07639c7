"""The web view (``device/web.py``, ``python -m device --serve``) without a browser: HTTP clients on sockets.

Most tests run :class:`device.loop.FrameLoop` in a thread with a stub pipeline over synthetic frames (fast, no
model); the end-to-end ones run ``python -m device --serve`` on a *live* source: another :class:`WebView` in this
process, fed astronaut frames at 15 FPS, whose ``/stream.mjpg`` the demo opens as a stream URL (OpenCV reads it
like an IP camera), so the demo runs until it is stopped, paced like a camera.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.labels import EMOTIONS
from device import demo, loop
from device.__main__ import main
from device.detector import Box
from device.loop import STAGES, FrameLoop
from device.pipeline import FaceResult, FrameResult, to_json
from device.sources import Frame
from device.web import (
    BOUNDARY,
    CONFIG_SLOT,
    PAGE_FILE,
    STREAM,
    Mailbox,
    ServeError,
    WebView,
    encode_cost,
    parse_address,
    pipeline_info,
)

FACE_KEYS = set(to_json(FrameResult(0, [FaceResult(Box(0, 0, 1, 1), 0, "happy", 1.0, np.ones(7) / 7, "happy")]))
                ["faces"][0])


# --- helpers ----------------------------------------------------------------------------------------------------


def wait_for(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class LoopingSource:
    """Endless frames (copies: the loop draws on them), ``period`` seconds apart, like a camera."""

    name, live, stills, fps = "looping", False, False, None

    def __init__(self, frames: list[np.ndarray], period: float = 0.0) -> None:
        self.frames, self.period = frames, period
        self.index = 0
        self._next = time.monotonic()

    def read(self) -> Frame:
        if self.period:
            self._next += self.period
            time.sleep(max(0.0, self._next - time.monotonic()))
        bgr = self.frames[self.index % len(self.frames)].copy()
        self.index += 1
        return Frame(self.index, bgr, None, time.monotonic())

    def close(self) -> None:
        pass

    def __enter__(self) -> LoopingSource:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class StubPipeline:
    """One fixed face per frame, ``work_s`` seconds of pretend work."""

    def __init__(self, work_s: float = 0.0) -> None:
        self.work_s = work_s

    def reset(self) -> None:
        pass

    def __call__(self, frame: Frame) -> FrameResult:
        if self.work_s:
            time.sleep(self.work_s)
        probs = np.array([0.05, 0.01, 0.04, 0.7, 0.05, 0.05, 0.1], np.float32)
        face = FaceResult(Box(40, 30, 80, 80, 0.9), 0, "happy", 0.7, probs, "happy")
        return FrameResult(frame.index, [face], {"detect": 1.0, "preprocess": 0.1, "classify": 0.2, "smooth": 0.05})


class Controls:
    """A sink that stops the loop on request and records when each frame was done."""

    wants_annotation = False

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.times: list[float] = []

    def write(self, frame, result, annotated) -> str | None:
        self.times.append(time.perf_counter())
        return "quit" if self.stop.is_set() else None

    def close(self) -> None:
        pass


@contextmanager
def running(view: WebView, source, pipeline=None) -> Iterator[Controls]:
    """``FrameLoop(source, pipeline, [stream, events, controls])`` in a thread; stopped (and the view closed, by the
    loop) on exit."""
    controls = Controls()
    frame_loop = FrameLoop(source, pipeline or StubPipeline(), [*view.sinks, controls], err=io.StringIO())
    thread = threading.Thread(target=frame_loop.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(controls.times) > 0, 20, "the first frame")
        yield controls
    finally:
        controls.stop.set()
        thread.join(20)
        assert not thread.is_alive(), "the frame loop did not stop"


def frames(width: int = 160, height: int = 120, n: int = 4, noise: bool = False) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    if noise:  # big JPEGs: fills socket buffers quickly
        return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(n)]
    base = np.zeros((height, width, 3), np.uint8)
    base[:, :, 1] = np.linspace(0, 255, width, dtype=np.uint8)
    return [np.roll(base, 5 * i, axis=1) for i in range(n)]


def connect(view: WebView, path: str, timeout: float = 10.0) -> tuple[http.client.HTTPConnection,
                                                                        http.client.HTTPResponse]:
    conn = http.client.HTTPConnection(view.host, view.port, timeout=timeout)
    conn.request("GET", path)
    return conn, conn.getresponse()


def get(view: WebView, path: str) -> tuple[int, dict[str, str], bytes]:
    conn, response = connect(view, path)
    try:
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def read_part(response) -> tuple[dict[str, str], bytes]:
    """One part of a multipart/x-mixed-replace body: its headers and its bytes."""
    line = response.readline()
    while line == b"\r\n":
        line = response.readline()
    assert line == f"--{BOUNDARY}\r\n".encode(), line
    headers = {}
    while (line := response.readline()) != b"\r\n":
        assert line, "stream ended inside a part's headers"
        key, _, value = line.decode().partition(":")
        headers[key.strip().lower()] = value.strip()
    data = response.read(int(headers["content-length"]))
    assert response.read(2) == b"\r\n"
    return headers, data


def read_event(response) -> dict:
    """The next ``data:`` line of an SSE stream (skips ``retry:``, comments and blank lines), parsed."""
    while True:
        line = response.readline()
        assert line, "event stream ended"
        if line.startswith(b"data: "):
            assert response.readline() == b"\n", "one data line per event"
            return json.loads(line[len(b"data: "):])


def raw_request(view: WebView, path: str, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect((view.host, view.port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


@pytest.fixture
def view() -> Iterator[WebView]:
    web = WebView("127.0.0.1", 0)
    yield web
    web.close()


# --- the address -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("8080", ("127.0.0.1", 8080)),
    ("0.0.0.0:8080", ("0.0.0.0", 8080)),
    ("localhost:1", ("localhost", 1)),
    ("[::1]:8081", ("::1", 8081)),
    ("0", ("127.0.0.1", 0)),
])
def test_parse_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("nope:abc", "not a number"), ("70000", "out of range"), ("-1", "out of range"), (":8080", "expected [HOST:]PORT"),
    ("::1:8080", "brackets"), ("", "not a number"),
])
def test_parse_address_rejects(text: str, message: str) -> None:
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(message)):
        parse_address(text)


# --- routes ----------------------------------------------------------------------------------------------------------


def test_the_page_is_self_contained(view: WebView) -> None:
    """One HTML page that needs nothing from elsewhere: no external script, style or font."""
    status, headers, body = get(view, "/")
    page = body.decode()
    assert status == 200 and headers["content-type"].startswith("text/html")
    for needed in ("stream.mjpg", "EventSource(\"events\")", "healthz", *EMOTIONS):
        assert needed in page, needed
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page) and "@import" not in page
    assert get(view, "/nope")[0] == 404
    config = json.loads(re.search(r"const CFG = (\{.*?\});", page).group(1))  # the labels and colours filled in
    assert config["emotions"] == list(EMOTIONS) and set(config["colors"]) == set(EMOTIONS)
    assert CONFIG_SLOT not in page and CONFIG_SLOT in PAGE_FILE.read_text()


@pytest.mark.parametrize("content", [None, "<html>no placeholder</html>"])
def test_a_missing_or_broken_page_fails_before_the_server_binds(tmp_path: Path, content: str | None,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    page_file = tmp_path / "index.html"
    if content is not None:
        page_file.write_text(content)
    from device import web

    def no_bind(*_args, **_kwargs):
        raise AssertionError("the server was bound before the page was checked")

    monkeypatch.setattr(web, "_bind", no_bind)
    with pytest.raises(ServeError, match=str(page_file)):
        WebView("127.0.0.1", 0, page_file=page_file)


def test_stream_sends_real_jpeg_frames_between_boundaries(view: WebView) -> None:
    with running(view, LoopingSource(frames(160, 120), period=0.01)):
        conn, response = connect(view, "/stream.mjpg")
        try:
            assert response.status == 200
            assert response.getheader("Content-Type") == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
            for _ in range(3):
                headers, data = read_part(response)
                assert headers["content-type"] == "image/jpeg"
                image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
                assert image is not None and image.shape == (120, 160, 3)
                # the box drawn: the frames have no red at all, the happy box's colour is mostly red (BGR 0, 215, 255)
                assert image[50:90, 39:42, 2].mean() > 60, "no box on the box's left edge (x = 40)"
                assert image[50:90, 70:90, 2].max() < 40, "red inside the box, where nothing is drawn"
        finally:
            conn.close()


def test_events_carry_the_headless_json_with_every_stage(view: WebView, float_model: Path, astronaut_bgr) -> None:
    """The real pipeline (BlazeFace + the tiny model) on the astronaut: each SSE ``data:`` line is what
    ``--headless`` prints (``device.pipeline.to_json``), ``draw`` time included."""
    options = demo.DemoOptions(model=float_model)
    pipeline = demo.build_pipeline(options)
    view.info.update(pipeline_info(pipeline))
    with running(view, LoopingSource([astronaut_bgr], period=0.02), pipeline):
        conn, response = connect(view, "/events")
        try:
            assert response.status == 200 and response.getheader("Content-Type").startswith("text/event-stream")
            events = [read_event(response) for _ in range(3)]
        finally:
            conn.close()
    for event in events:
        assert set(event) == {"frame", "faces", "timings_ms"}
        assert set(event["timings_ms"]) == set(STAGES)  # capture, detect, preprocess, classify, smooth, draw
        (face,) = event["faces"]
        assert set(face) == FACE_KEYS and face["label"] in EMOTIONS and set(face["probabilities"]) == set(EMOTIONS)
    assert [e["frame"] for e in events] == sorted(e["frame"] for e in events)
    assert view.info["model"] == float_model.name
    assert view.info["detector"] == "BlazeFace short, second look 2x the box, whole frame searched every 8 frames"
    assert {"smoothing", "framing"} <= set(view.info)


def test_the_page_says_how_the_detector_runs(float_model: Path) -> None:
    for options, expected in (
        (demo.DemoOptions(model=float_model, refine=0.0), "BlazeFace short, one pass"),
        (demo.DemoOptions(model=float_model, search_every=1), "BlazeFace short, second look 2x the box"),
        (demo.DemoOptions(model=float_model, detector="blazeface-full"), "BlazeFace full, one pass"),
        (demo.DemoOptions(model=float_model, detector="haar"), "Haar"),
    ):
        assert pipeline_info(demo.build_pipeline(options))["detector"] == expected


def test_healthz(view: WebView) -> None:
    status, headers, body = get(view, "/healthz")
    health = json.loads(body)
    assert status == 200 and headers["content-type"] == "application/json"
    assert health["status"] == "waiting" and health["frames"] == 0 and health["last_frame_age_s"] is None
    with running(view, LoopingSource(frames(), period=0.01)) as controls:
        wait_for(lambda: len(controls.times) > 10)
        conn, response = connect(view, "/events")
        read_event(response)
        health = json.loads(get(view, "/healthz")[2])
        conn.close()
    assert health["status"] == "ok" and health["frames"] > 10 and 0 <= health["last_frame_age_s"] < 2
    assert health["fps"] > 5 and health["uptime_s"] > 0
    assert health["clients"]["stream"] == 0 and health["clients"]["events"] == 1 and health["clients"]["max"] == 4
    assert {"frames", "fps", "last_frame_age_s", "clients", "uptime_s"} <= set(health)


def test_healthz_is_503_when_frames_stop(monkeypatch) -> None:
    with WebView("127.0.0.1", 0) as web:
        web.publish_result(FrameResult(0, []))
        assert get(web, "/healthz")[0] == 200
        monkeypatch.setattr(web, "last_frame_at", time.monotonic() - 60)
        status, _, body = get(web, "/healthz")
        assert status == 503 and json.loads(body)["status"] == "stale"
        web.stale_after = 120.0  # what the demo sets while it shows each image of a folder for a minute
        assert get(web, "/healthz")[0] == 200


def test_past_the_client_limit_a_clear_503() -> None:
    web = WebView("127.0.0.1", 0, max_clients=2)
    with running(web, LoopingSource(frames(), period=0.01)):
        first, r1 = connect(web, "/stream.mjpg")
        second, r2 = connect(web, "/events")
        read_part(r1), read_event(r2)
        for path in ("/stream.mjpg", "/events"):
            status, headers, body = get(web, path)
            assert status == 503 and headers["content-type"].startswith("text/plain")
            assert b"too many clients: at most 2" in body and headers["retry-after"]
        assert get(web, "/healthz")[0] == 200  # monitoring is not a client
        r1.close(), first.close()  # a slot frees up: the next one gets in (a gone peer is pruned when the limit is hit)
        third, r3 = connect(web, "/stream.mjpg")
        assert r3.status == 200 and read_part(r3)
        r3.close(), third.close(), r2.close(), second.close()


def test_a_client_that_disconnects_mid_stream_leaves_no_thread(view: WebView) -> None:
    with running(view, LoopingSource(frames(), period=0.01)):
        baseline = threading.active_count()
        conns = []
        for path in ("/stream.mjpg", "/stream.mjpg", "/events"):
            conn, response = connect(view, path)
            read_part(response) if path == "/stream.mjpg" else read_event(response)
            conns.append(response)  # a non-keep-alive response owns the connection's socket
        assert view.clients() == 3 and threading.active_count() == baseline + 3
        for response in conns:  # hang up in the middle of the stream
            response.close()
        wait_for(lambda: view.clients() == 0 and threading.active_count() == baseline, 5, "the client threads to end")
    assert not view.stream_sink.wants_annotation


def test_hundreds_of_connections_leave_nothing_behind(view: WebView) -> None:
    """300 clients come and go (half read a little, half hang up at once; some mid-frame): afterwards no client is
    registered, and the thread and file-descriptor counts are back where they were."""
    with running(view, LoopingSource(frames(), period=0.005)):
        baseline_threads, baseline_fds = threading.active_count(), open_fds()
        statuses = []
        for i in range(300):
            sock = raw_request(view, "/stream.mjpg" if i % 2 else "/events")
            if i % 3:
                head = sock.recv(64)
                statuses.append(head.split(b" ")[1])
                if i % 3 == 2:
                    sock.recv(300)  # into the first frame or event
            sock.close()
        assert set(statuses) == {b"200"}, statuses  # max_clients 4 is never hit: gone clients are pruned
        wait_for(lambda: view.clients() == 0 and threading.active_count() == baseline_threads, 10,
                 "every client thread to end")
        assert open_fds() <= baseline_fds
        with view._lock:
            assert view._clients == []


def test_nothing_is_drawn_or_encoded_while_nobody_watches(view: WebView, monkeypatch) -> None:
    encoded, drawn = [], []
    real_imencode, real_draw = cv2.imencode, loop.draw_results
    monkeypatch.setattr(cv2, "imencode", lambda *a, **k: encoded.append(1) or real_imencode(*a, **k))
    monkeypatch.setattr(loop, "draw_results", lambda *a, **k: drawn.append(1) or real_draw(*a, **k))
    with running(view, LoopingSource(frames(), period=0.005)) as controls:
        events, response = connect(view, "/events")  # someone reads the events, nobody watches the video
        for _ in range(20):
            read_event(response)
        assert encoded == [] and drawn == [] and not view.stream_sink.wants_annotation
        watcher, video = connect(view, "/stream.mjpg")
        for _ in range(3):
            read_part(video)
        assert len(encoded) >= 3 and len(drawn) >= 3 and view.encoded == len(encoded)
        video.close(), watcher.close()
        wait_for(lambda: view.clients(STREAM) == 0, 5, "the video client to go")
        before, frames_then = len(encoded), len(controls.times)
        wait_for(lambda: len(controls.times) > frames_then + 20, 10, "more frames")
        assert len(encoded) <= before + 1  # at most the frame in flight when it left
        events.close()


def test_a_stalled_client_does_not_slow_the_loop(monkeypatch) -> None:
    """A client that asks for the video and never reads: the loop keeps its pace (big noisy 640x480 JPEGs fill any
    socket buffer within a few frames; a blocking write would stop the loop), its frames are dropped, and once its
    socket times out its thread ends."""
    web = WebView("127.0.0.1", 0, socket_timeout=1.0)
    with running(web, LoopingSource(frames(640, 480, 8, noise=True)), StubPipeline(work_s=0.02)) as controls:

        def seconds_per_frame(n: int = 40) -> float:
            start = len(controls.times)
            wait_for(lambda: len(controls.times) >= start + n + 1, 60, f"{n} frames")
            window = controls.times[start : start + n + 1]
            return (window[-1] - window[0]) / n

        free = seconds_per_frame()
        stalled = raw_request(web, "/stream.mjpg", rcvbuf=4096)
        wait_for(lambda: web.clients(STREAM) == 1, 5, "the stalled client")
        with web._lock:
            (client,) = web._clients
        during = seconds_per_frame(60)
        assert web.clients(STREAM) == 1 or client.mailbox.dropped > 0
        assert during < 2 * free + 0.01, (free, during)
        assert client.mailbox.dropped > 10, client.mailbox.dropped  # replaced in its mailbox, never queued
        wait_for(lambda: web.clients(STREAM) == 0, 10, "the stalled client's socket to time out")
        wait_for(lambda: not client.thread.is_alive(), 5, "its thread to end")
        stalled.close()


def test_mailbox_keeps_only_the_latest() -> None:
    box = Mailbox()
    for item in (b"1", b"2", b"3"):
        box.put(item)
    assert box.take(0.1) == b"3" and box.dropped == 2 and box.take(0.01) is None
    box.close()
    start = time.monotonic()
    assert box.take(5) is None and time.monotonic() - start < 1


def test_close_ends_the_server_and_every_client() -> None:
    web = WebView("127.0.0.1", 0)
    baseline = threading.active_count()
    with running(web, LoopingSource(frames(), period=0.01)):
        stalled = raw_request(web, "/stream.mjpg", rcvbuf=4096)  # blocked in a write: close() must wake it
        reader, response = connect(web, "/events")
        read_event(response)
        wait_for(lambda: web.clients() == 2)
    # the loop closed its sinks: server and clients are gone, the port is free
    wait_for(lambda: threading.active_count() <= baseline - 1, 5, "the server and client threads to end")
    with pytest.raises(OSError):
        socket.create_connection((web.host, web.port), timeout=2).close()
    stalled.close(), reader.close()
    web.close()  # idempotent


def test_binding_errors_are_serve_errors() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ServeError, match="in use"):
            WebView("127.0.0.1", taken.getsockname()[1])
    with pytest.raises(ServeError, match="cannot resolve host"):
        WebView("no-such-host.invalid", 8080)
    with pytest.raises(ServeError, match="not an address of this machine"):
        WebView("192.0.2.1", 8080)  # TEST-NET-1: never this machine's


def test_encode_cost(astronaut_bgr) -> None:
    cost = encode_cost(cv2.resize(astronaut_bgr, (640, 480)), 80, repeats=5)
    assert 0 < cost["median_ms"] <= cost["p95_ms"] and cost["width"] == 640 and cost["height"] == 480
    assert 5 < cost["kib"] < 300 and cost["quality"] == 80


# --- python -m device --serve -----------------------------------------------------------------------------------


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_port_in_use_exits_2_before_model_or_source_open(monkeypatch, capsys, float_model: Path) -> None:
    def loudly(*args, **kwargs):
        raise AssertionError("opened although the port is taken")

    monkeypatch.setattr(demo, "open_source", loudly)
    monkeypatch.setattr(demo, "build_pipeline", loudly)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        rc, out, err = run_main(capsys, "--source", "0", "--model", str(float_model), "--headless", "--serve",
                                f"127.0.0.1:{port}")
    assert rc == 2 and out == ""
    assert f"error: --serve 127.0.0.1:{port}: cannot listen there: Address already in use" in err, err
    assert "Traceback" not in err and "AssertionError" not in err


@pytest.mark.parametrize(("address", "message"), [
    ("nope:abc", "the port 'abc' is not a number"),
    ("99999", "port 99999 out of range"),
    ("[::1:80", "brackets"),
])
def test_bad_address_exits_2(monkeypatch, capsys, address: str, message: str) -> None:
    monkeypatch.setattr(demo, "open_source", lambda *a, **k: pytest.fail("source opened"))
    with pytest.raises(SystemExit) as exit_info:
        main(["--source", "0", "--serve", address])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "argument --serve" in err and message in err, err


def test_unresolvable_host_exits_2_before_the_source(monkeypatch, capsys, float_model: Path) -> None:
    monkeypatch.setattr(demo, "open_source", lambda *a, **k: pytest.fail("source opened"))
    monkeypatch.setattr(demo, "build_pipeline", lambda *a, **k: pytest.fail("model loaded"))
    rc, _, err = run_main(capsys, "--source", "0", "--model", str(float_model), "--serve", "no-such-host.invalid:80")
    assert rc == 2 and "error: --serve no-such-host.invalid:80: cannot resolve host" in err, err


def test_a_bad_model_after_binding_closes_the_server(monkeypatch, capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    baseline = threading.active_count()
    rc, _, err = run_main(capsys, "--source", "0", "--model", str(bad), "--serve", "127.0.0.1:0")
    assert rc == 2 and "serving the web view" in err and "error:" in err
    assert threading.active_count() == baseline  # the server thread is gone


def start_demo(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, str]:
    """``python -m device ARGS`` in the background; returns it and the URL it serves on (from its stderr)."""
    cmd = [sys.executable, "-m", "device", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    line = proc.stderr.readline()
    match = re.search(r"serving the web view on (http://\S+/)", line)
    if match is None:
        proc.kill()
        raise AssertionError(f"no address in {line!r}: {proc.communicate()[1]}")
    return proc, match.group(1)


class Remote:
    """Just enough of :class:`WebView` (host, port) for the helpers above."""

    def __init__(self, url: str) -> None:
        host, port = re.match(r"http://([^/]+):(\d+)/", url).groups()
        self.host, self.port = host, int(port)


@pytest.mark.skipif(os.name != "posix", reason="sends SIGTERM")
def test_cli_serves_with_headless_and_record_and_stops_cleanly_on_sigterm(tmp_path, float_model, live_camera) -> None:
    """``python -m device --serve 127.0.0.1:0 --headless --record`` on a live source: the page, the video, the
    events and /healthz are served while JSON lines go to stdout and the video is recorded; SIGTERM ends it with
    the usual summary, the recording finished and the port closed."""
    video = tmp_path / "out.avi"
    proc, url = start_demo(tmp_path, "--source", live_camera, "--model", str(float_model), "--headless",
                           "--serve", "127.0.0.1:0", "--record", str(video))
    remote = Remote(url)
    try:
        assert get(remote, "/")[0] == 200
        conn, response = connect(remote, "/events", timeout=30)
        events = [read_event(response) for _ in range(3)]
        watcher, stream = connect(remote, "/stream.mjpg", timeout=30)
        headers, data = read_part(stream)
        health = json.loads(get(remote, "/healthz")[2])
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        conn.close(), watcher.close()
    finally:
        proc.kill()
    assert proc.returncode == 0 and "stopped: interrupted" in err and "Traceback" not in err, err
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape == (512, 512, 3)
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) >= 3 and all(set(line) == set(events[0]) for line in lines)
    for event in events:
        assert set(event["timings_ms"]) == set(STAGES) and event["faces"] and set(event["faces"][0]) == FACE_KEYS
    assert health["status"] == "ok" and health["clients"]["events"] == 1 and health["info"]["model"] == float_model.name
    assert video.is_file() and cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FRAME_COUNT) >= 3
    with pytest.raises(OSError):
        socket.create_connection((remote.host, remote.port), timeout=2).close()


@pytest.mark.skipif(os.name != "posix", reason="subprocess port check")
def test_cli_port_in_use_exits_2_before_the_source_is_opened(tmp_path: Path, float_model: Path) -> None:
    """As a real process: the source is a camera that does not exist (it would fail with its own error)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "device", "--source", "97", "--model", str(float_model),
                               "--serve", str(port)], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and "Address already in use" in proc.stderr, proc.stderr
    assert "camera" not in proc.stderr.lower() and proc.stdout == ""


def test_events_client_gets_keepalives_when_no_frames_come() -> None:
    with WebView("127.0.0.1", 0, keepalive_s=0.3) as web:
        conn, response = connect(web, "/events")
        assert response.readline() == b"retry: 2000\n" and response.readline() == b"\n"
        assert response.readline() == b": keepalive\n"
        web.publish_result(FrameResult(7, []))
        assert read_event(response) == to_json(FrameResult(7, []))
        conn.close()


@pytest.mark.parametrize("serve", ["", "0.0.0.0:8080"])
def test_the_service_passes_feredge_serve(tmp_path: Path, repo_root: Path, serve: str) -> None:
    """``feredge service`` (what the systemd unit runs) adds ``--serve $FEREDGE_SERVE`` from config.env when set."""
    rel = tmp_path / "releases" / "1.0"
    (rel / ".venv" / "bin").mkdir(parents=True)
    (rel / "models").mkdir()
    (rel / "models" / "m.tflite").write_bytes(b"")
    (rel / "VERSION").write_text("1.0\n")
    launcher = rel / "feredge"
    launcher.write_text((repo_root / "deploy" / "feredge.sh").read_text())
    launcher.chmod(0o755)
    python = rel / ".venv" / "bin" / "python"
    python.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path / "args"}\n')
    python.chmod(0o755)
    (tmp_path / "config.env").write_text(f'FEREDGE_SOURCE=picamera2\nFEREDGE_MODEL=models/m.tflite\n'
                                         f'FEREDGE_SERVE="{serve}"\nFEREDGE_LOG_DIR="{tmp_path / "logs"}"\n')
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "FEREDGE_HOME": str(tmp_path)}
    proc = subprocess.run(["bash", str(launcher), "service"], capture_output=True, text=True, env=env, timeout=30)
    assert proc.returncode == 0, proc.stderr
    args = (tmp_path / "args").read_text().splitlines()
    assert args[:2] == ["-m", "device"] and "--headless" in args
    if serve:
        assert args[args.index("--serve") + 1] == serve
        assert f"serve={serve}" in (tmp_path / "logs" / "demo.err").read_text()
    else:
        assert "--serve" not in args


def test_help_says_where_it_binds() -> None:
    from device.__main__ import build_parser

    text = " ".join(build_parser().format_help().split())
    assert "Binds 127.0.0.1 (this machine only) unless HOST is given" in text
    assert "--serve 0.0.0.0:8080 exposes it to the whole network on purpose" in text
