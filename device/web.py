"""Watch a headless device from a browser: ``python -m device --serve [HOST:]PORT``.

Routes (all GET):

- ``/``: one self-contained page (``device/static/index.html``: HTML with its CSS and JS inline, no CDN, no build
  step; the Pi bundle and the package data carry it, read once when the view starts): the live annotated video, per
  face its label and a bar per class, FPS, per-stage timings, model, detector, smoothing, framing, uptime. It
  reconnects by itself when the device restarts (the event stream with backoff, the video reloaded with backoff).
- ``/stream.mjpg``: ``multipart/x-mixed-replace`` MJPEG of the annotated frames.
- ``/events``: Server-Sent Events, one ``data:`` line per frame carrying the same JSON as ``--headless`` prints.
- ``/healthz``: JSON status for monitoring (frames, fps, last frame age, clients, uptime); HTTP 503 once no frame
  came for :data:`STALE_AFTER_S` seconds.

The camera loop never waits for a client: :class:`WebView` gives the loop two sinks (``device/loop.py``'s
protocol). ``stream_sink`` wants the annotated frame only while a stream client is connected (else the loop does
not even draw, and no JPEG is encoded); it encodes once per frame with ``cv2.imencode`` and drops the bytes into
each stream client's one-slot mailbox. ``events_sink`` does not want annotation, so the loop writes it after
``draw`` is timed: its events carry every stage's final time. A mailbox holds only the latest item: one the client
has not taken yet is replaced (counted as dropped), never queued, so a slow or stalled client costs no memory and
no loop time. At most ``max_clients`` stream and event clients at once; the next one gets a 503 with a text body.

Why the standard library's :class:`http.server.ThreadingHTTPServer` (what picamera2's own MJPEG example uses) and
not an async framework: no new dependency on the Pi, and a thread per client is the simplest correct model for a
handful of long-lived streaming responses that block on a socket write. ``daemon_threads`` is set, so
``ThreadingMixIn`` keeps no list of finished threads (nothing grows over hundreds of connections) and a client
thread never holds up the process at exit. Every client socket has a timeout (:data:`SOCKET_TIMEOUT_S`): a
client that stops reading makes its thread's blocked write fail after that long, and the thread ends; a client
that went away is noticed within :data:`POLL_S` even when no frame comes (its socket reads as closed).
``close()`` stops the server, shuts the clients' sockets down (which wakes blocked writes) and joins the threads.

The address is resolved and the socket bound in the constructor, so a port in use or an unresolvable host is a
:class:`ServeError` before the camera and the model are opened (``python -m device`` exits 2).

:func:`encode_cost` measures what serving costs per frame (JPEG encoding at a resolution and quality), for the
benchmark.
"""

from __future__ import annotations

import argparse
import errno
import json
import select
import socket
import socketserver
import statistics
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core.labels import EMOTIONS
from device.draw import PALETTE
from device.loop import OutputError
from device.pipeline import FrameResult, to_json
from device.sources import Frame

DEFAULT_HOST = "127.0.0.1"
DEFAULT_MAX_CLIENTS = 4
DEFAULT_JPEG_QUALITY = 80
SOCKET_TIMEOUT_S = 10.0  # a client that takes no bytes for this long is dropped
POLL_S = 0.25  # how often an idle client thread checks for shutdown and a vanished peer
KEEPALIVE_S = 15.0  # an SSE comment when no event came for this long (proxies, dead-peer detection)
STALE_AFTER_S = 5.0  # /healthz: 503 when the last frame is older than this
RETRY_MS = 2000  # SSE reconnection delay the browser is told
BOUNDARY = "feredge-frame"
PAGE_FILE = Path(__file__).resolve().parent / "static" / "index.html"
CONFIG_SLOT = "/*CONFIG*/null"  # where page() writes the labels and colours
STREAM, EVENTS = "stream", "events"


class ServeError(OutputError):
    """The web view cannot serve (port in use, host not resolvable, not an address here); the message says which.
    An :class:`device.loop.OutputError`: ``python -m device`` reports it in one line and exits 2."""


def parse_address(text: str) -> tuple[str, int]:
    """``PORT``, ``HOST:PORT`` or ``[IPV6]:PORT`` -> (host, port); the host defaults to 127.0.0.1 (this machine
    only). Port 0 takes any free port. An argparse ``type``: bad syntax raises ``ArgumentTypeError``; whether the
    host resolves is checked when binding."""
    text = text.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = DEFAULT_HOST, text
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise argparse.ArgumentTypeError(f"{text!r}: write an IPv6 address in brackets, e.g. [::1]:8080")
    if not host:
        raise argparse.ArgumentTypeError(f"{text!r}: expected [HOST:]PORT, e.g. 8080 or 0.0.0.0:8080")
    try:
        port = int(port_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: the port {port_text!r} is not a number; expected [HOST:]PORT, "
                                         "e.g. 8080 or 0.0.0.0:8080") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: port {port} out of range 0..65535 (0: any free port)")
    return host, port


def encode_jpeg(bgr: np.ndarray, quality: int = DEFAULT_JPEG_QUALITY) -> bytes:
    ok, buffer = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"cannot encode a {bgr.shape} frame as JPEG")
    return buffer.tobytes()


def encode_cost(frame: np.ndarray, quality: int = DEFAULT_JPEG_QUALITY, repeats: int = 30) -> dict[str, float]:
    """What serving adds per watched frame: the JPEG encode of ``frame`` (BGR, at the stream's resolution) at
    ``quality``, timed ``repeats`` times after one warm-up. Returns ``median_ms``, ``p95_ms``, ``kib`` (the size of
    one frame), ``width``, ``height``, ``quality``. OpenCV's JPEG encoder runs on one thread."""
    encode_jpeg(frame, quality)
    times, size = [], 0
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        size = len(encode_jpeg(frame, quality))
        times.append((time.perf_counter() - start) * 1000.0)
    times.sort()
    return {
        "median_ms": statistics.median(times),
        "p95_ms": times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))],
        "kib": size / 1024.0,
        "width": float(frame.shape[1]),
        "height": float(frame.shape[0]),
        "quality": float(quality),
    }


def pipeline_info(pipeline: Any, model: Any = None) -> dict[str, str]:
    """What the page shows about the running pipeline: model, detector, balance, smoothing, framing (best effort)."""
    info: dict[str, str] = {}
    classifier = getattr(pipeline, "classifier", None)
    path = model if model is not None else getattr(classifier, "model_path", None)
    if path is not None:
        info["model"] = getattr(path, "name", str(path))
    detector = getattr(pipeline, "detector", None)
    if detector is not None:
        name = type(detector).__name__.removesuffix("Detector")
        options = getattr(detector, "options", None)
        variant = getattr(options, "variant", None)
        info["detector"] = f"{name} {variant}" if variant else name
        context = getattr(detector, "refine_context", None)
        if isinstance(context, (int, float)):  # BlazeFace: its second look, and following faces on video
            every = getattr(options, "search_every", 1)
            info["detector"] += (f", second look {context:g}x the box" if context else ", one pass") + (
                f", whole frame searched every {every} frames" if context and every > 1 else "")
    tracker = getattr(pipeline, "tracker", None)
    if tracker is None:
        info["smoothing"] = "off"
    elif getattr(tracker, "frame_based", False):
        window, alpha = getattr(tracker, "window", None), getattr(tracker, "alpha", None)
        info["smoothing"] = f"EMA alpha {alpha:g} per frame" if alpha is not None else f"mean of {window} frames"
    else:
        config = getattr(tracker, "smoothing", None)
        tau = getattr(config, "tau", None)
        if tau is not None:
            info["smoothing"] = "off" if tau == 0 else (
                f"tau {tau:g} s, margin {getattr(config, 'margin', 0):g}, hold {getattr(config, 'hold', 0):g} s")
    balance = getattr(classifier, "balance", None)
    if isinstance(balance, (int, float)):
        info["balance"] = f"{balance:g} (prior correction)" if balance else "0 (the model as trained)"
    margin = getattr(pipeline, "margin", None)
    if hasattr(margin, "describe"):
        info["framing"] = margin.describe()
    elif isinstance(margin, (int, float)):
        info["framing"] = f"square margin {margin:.0%} a side"
    return info


class Mailbox:
    """One slot holding the latest item for one client: ``put`` never blocks and replaces an item not yet taken."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: bytes | None = None
        self._closed = False
        self.delivered = self.dropped = 0

    def put(self, item: bytes) -> None:
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify()

    def take(self, timeout: float) -> bytes | None:
        """The latest item (and empties the slot), or None after ``timeout`` seconds or once closed."""
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            if item is not None:
                self.delivered += 1
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class _Client:
    def __init__(self, kind: str, connection: socket.socket) -> None:
        self.kind, self.connection = kind, connection
        self.mailbox = Mailbox()
        self.thread = threading.current_thread()
        self.since = time.monotonic()


def _peer_closed(sock: socket.socket) -> bool:
    """Whether the other end closed (or reset) the connection; never blocks."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # no list of finished threads kept, none blocks the exit (see the module docstring)
    request_queue_size = 16

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], family: int) -> None:
        self.address_family = family
        super().__init__(address, handler)

    def server_bind(self) -> None:  # HTTPServer's calls getfqdn(), a reverse DNS lookup that can hang for seconds
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # a client that went away mid-request: nothing to report
            return
        print(f"warning: web view: {type(error).__name__}: {error} (client {client_address[0]})", file=sys.stderr,
              flush=True)


class WebView:
    """The server and its clients. Binds (and starts serving) in the constructor; :meth:`close` stops it.

    ``to_event(result)`` is the per-frame JSON (default :func:`device.pipeline.to_json`, what ``--headless`` prints);
    ``info`` the page's model/detector/smoothing/framing lines (:func:`pipeline_info`).
    """

    def __init__(self, host: str = DEFAULT_HOST, port: int = 8080, *, max_clients: int = DEFAULT_MAX_CLIENTS,
                 jpeg_quality: int = DEFAULT_JPEG_QUALITY, info: Mapping[str, str] | None = None,
                 to_event: Callable[[FrameResult], dict[str, Any]] = to_json,
                 socket_timeout: float = SOCKET_TIMEOUT_S, keepalive_s: float = KEEPALIVE_S,
                 page_file: Path = PAGE_FILE) -> None:
        if max_clients < 1:
            raise ValueError(f"max_clients {max_clients}: expected at least 1")
        if not 0 <= jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality {jpeg_quality}: expected 0..100")
        self.max_clients, self.jpeg_quality = max_clients, jpeg_quality
        self.stale_after = STALE_AFTER_S  # /healthz: "stale" (503) past this many seconds without a frame
        self.page = page(page_file)  # read before binding: a missing page fails before the camera opens
        self.info: dict[str, str] = dict(info or {})
        self.to_event = to_event
        self.socket_timeout, self.keepalive_s = socket_timeout, keepalive_s
        self.started = time.monotonic()
        self.frames = self.encoded = self.refused = 0
        self.last_frame_at: float | None = None
        self.last_encode_ms: float | None = None
        self.frame_size: tuple[int, int] | None = None
        self._times: deque[float] = deque(maxlen=30)
        self._lock = threading.Lock()
        self._clients: list[_Client] = []
        self._closing = threading.Event()
        self._closed = False
        self._server = _bind(host, port, _make_handler(self))
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": POLL_S},
                                        name=f"feredge-web-{self.port}", daemon=True)
        self._thread.start()
        self.stream_sink = _StreamSink(self)
        self.events_sink = _EventsSink(self)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in str(self.host) else self.host
        return f"http://{host}:{self.port}/"

    @property
    def sinks(self) -> list[Any]:
        """Both sinks, for a :class:`device.loop.FrameLoop`."""
        return [self.stream_sink, self.events_sink]

    # --- clients -------------------------------------------------------------------------------------------------
    def clients(self, kind: str | None = None) -> int:
        with self._lock:
            return sum(1 for c in self._clients if kind is None or c.kind == kind)

    def _register(self, kind: str, connection: socket.socket) -> _Client | None:
        """A new client, or None when ``max_clients`` are connected (after dropping any whose peer is gone)."""
        with self._lock:
            if self._closing.is_set():
                return None
            if len(self._clients) >= self.max_clients:
                for gone in [c for c in self._clients if _peer_closed(c.connection)]:
                    gone.mailbox.close()
                    self._clients.remove(gone)
            if len(self._clients) >= self.max_clients:
                self.refused += 1
                return None
            client = _Client(kind, connection)
            self._clients.append(client)
            return client

    def _unregister(self, client: _Client) -> None:
        with self._lock:
            if client in self._clients:
                self._clients.remove(client)

    def _publish(self, kind: str, item: bytes) -> None:
        with self._lock:
            targets = [c for c in self._clients if c.kind == kind]
        for client in targets:
            client.mailbox.put(item)

    # --- status ----------------------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            times = list(self._times)
            counts = {STREAM: 0, EVENTS: 0}
            dropped = 0
            for c in self._clients:
                counts[c.kind] += 1
                dropped += c.mailbox.dropped
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else None
        age = None if self.last_frame_at is None else now - self.last_frame_at
        state = "waiting" if age is None else ("ok" if age < self.stale_after else "stale")
        return {
            "status": state,
            "frames": self.frames,
            "fps": None if fps is None else round(fps, 2),
            "last_frame_age_s": None if age is None else round(age, 3),
            "clients": {STREAM: counts[STREAM], EVENTS: counts[EVENTS], "max": self.max_clients,
                        "refused": self.refused, "dropped_frames": dropped},
            "uptime_s": round(now - self.started, 3),
            "jpeg": {"quality": self.jpeg_quality, "encoded": self.encoded,
                     "last_encode_ms": None if self.last_encode_ms is None else round(self.last_encode_ms, 3),
                     "size": list(self.frame_size) if self.frame_size else None},
            "info": self.info,
        }

    # --- frames from the loop ----------------------------------------------------------------------------------------
    def publish_frame(self, annotated: np.ndarray) -> None:
        """Encode once and hand the JPEG to every stream client (nothing happens without one)."""
        if self.clients(STREAM) == 0:
            return
        start = time.perf_counter()
        jpeg = encode_jpeg(annotated, self.jpeg_quality)
        self.last_encode_ms = (time.perf_counter() - start) * 1000.0
        self.encoded += 1
        self.frame_size = (annotated.shape[1], annotated.shape[0])
        header = (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n").encode()
        self._publish(STREAM, header + jpeg + b"\r\n")

    def publish_result(self, result: FrameResult) -> None:
        """Count the frame; hand its JSON to every events client (serialised only when there is one)."""
        now = time.monotonic()
        self.frames += 1
        self.last_frame_at = now
        with self._lock:
            self._times.append(now)
        if self.clients(EVENTS):
            self._publish(EVENTS, f"data: {json.dumps(self.to_event(result))}\n\n".encode())

    # --- shutdown ----------------------------------------------------------------------------------------------------
    def close(self, timeout: float = 2.0) -> None:
        """Stop serving, disconnect every client, join the server thread and (up to ``timeout``) the client threads.
        Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._closing.set()
            clients = list(self._clients)
        for client in clients:
            client.mailbox.close()
            try:
                client.connection.shutdown(socket.SHUT_RDWR)  # wakes a write blocked on a stalled client
            except OSError:
                pass
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout)
        deadline = time.monotonic() + timeout
        for client in clients:
            if client.thread is not threading.current_thread():
                client.thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> WebView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _StreamSink:
    """Wants the annotated frame only while someone watches; encodes and publishes it (``draw`` time)."""

    def __init__(self, view: WebView) -> None:
        self.view = view

    @property
    def wants_annotation(self) -> bool:
        return self.view.clients(STREAM) > 0

    def write(self, frame: Frame, result: FrameResult, annotated: np.ndarray | None) -> str | None:
        if annotated is not None:
            self.view.publish_frame(annotated)
        return None

    def close(self) -> None:
        self.view.close()


class _EventsSink:
    """Publishes each frame's JSON after ``draw`` is timed, so events carry every stage's time."""

    wants_annotation = False

    def __init__(self, view: WebView) -> None:
        self.view = view

    def write(self, frame: Frame, result: FrameResult, annotated: np.ndarray | None) -> str | None:
        self.view.publish_result(result)
        return None

    def close(self) -> None:
        self.view.close()


def _bind(host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> _Server:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ServeError(f"--serve {host}:{port}: cannot resolve host {host!r} ({exc})") from None
    last: OSError | None = None
    for family, _, _, _, address in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        try:
            return _Server((address[0], port), handler, family)
        except OSError as exc:
            last = exc
    reason = last.strerror if last is not None and last.strerror else (str(last) if last else "no IPv4/IPv6 address")
    hints = {errno.EADDRINUSE: " (another program, or another feredge, listens there: pick another port)",
             errno.EADDRNOTAVAIL: " (not an address of this machine: 127.0.0.1, 0.0.0.0 or one of its own)",
             errno.EACCES: " (ports below 1024 need root: pick a port from 1024 up, e.g. 8080)"}
    hint = hints.get(last.errno, "") if last is not None else ""
    raise ServeError(f"--serve {host}:{port}: cannot listen there: {reason}{hint}")


def _make_handler(view: WebView) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        pass

    Handler.view = view
    Handler.timeout = view.socket_timeout
    return Handler


class _Handler(BaseHTTPRequestHandler):
    view: WebView
    timeout: float | None = SOCKET_TIMEOUT_S  # StreamRequestHandler puts it on the socket: reads and writes
    disable_nagle_algorithm = True
    server_version = "feredge"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - no access log (the service's stderr)
        return

    def _send_text(self, code: int, text: str, content_type: str = "text/plain; charset=utf-8",
                   headers: Mapping[str, str] | None = None) -> None:
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        try:
            if path in ("/", "/index.html"):
                self._send_text(200, self.view.page, "text/html; charset=utf-8")
            elif path == "/healthz":
                status = self.view.status()
                self._send_text(503 if status["status"] == "stale" else 200, json.dumps(status),
                                "application/json")
            elif path == "/stream.mjpg":
                self._serve(STREAM)
            elif path == "/events":
                self._serve(EVENTS)
            elif path == "/favicon.ico":
                self.send_response(204)
                self.end_headers()
            else:
                self._send_text(404, f"not found: {path} (try / /stream.mjpg /events /healthz)\n")
        except OSError:  # the client went away: its thread just ends
            self.close_connection = True

    def _serve(self, kind: str) -> None:
        view = self.view
        client = view._register(kind, self.connection)
        if client is None:
            text = ("the web view is shutting down\n" if view._closing.is_set() else
                    f"too many clients: at most {view.max_clients} video streams and event streams at once "
                    "(--max-clients); close another page or try again later\n")
            self._send_text(503, text, headers={"Retry-After": "5"})
            return
        try:
            self.send_response(200)
            if kind == STREAM:
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            else:
                self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                self.send_header("X-Accel-Buffering", "no")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            if kind == EVENTS:
                self.wfile.write(f"retry: {RETRY_MS}\n\n".encode())
            self._pump(client, kind)
        except OSError:
            pass
        finally:
            view._unregister(client)
            self.close_connection = True

    def _pump(self, client: _Client, kind: str) -> None:
        """Write what lands in the client's mailbox until shutdown or the client goes away."""
        view, quiet_since = self.view, time.monotonic()
        while not view._closing.is_set():
            item = client.mailbox.take(POLL_S)
            if item is not None:
                self.wfile.write(item)
                quiet_since = time.monotonic()
                continue
            if view._closing.is_set() or _peer_closed(self.connection):
                return
            if kind == EVENTS and time.monotonic() - quiet_since >= view.keepalive_s:
                self.wfile.write(b": keepalive\n\n")
                quiet_since = time.monotonic()


def _css_color(bgr: tuple[int, int, int]) -> str:
    b, g, r = bgr
    return f"rgb({r},{g},{b})"


def page(path: Path = PAGE_FILE) -> str:
    """The page (``device/static/index.html``) with the labels and their colours filled in where it says
    ``/*CONFIG*/null``; a missing or placeholder-less file is a :class:`ServeError` naming it."""
    try:
        html = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ServeError(f"web page {path}: cannot be read ({exc.strerror or exc}); it ships with the device "
                         "package (device/static/)") from exc
    if CONFIG_SLOT not in html:
        raise ServeError(f"web page {path}: no {CONFIG_SLOT} placeholder for the labels and colours")
    config = {"emotions": list(EMOTIONS), "colors": {e: _css_color(c) for e, c in zip(EMOTIONS, PALETTE)}}
    return html.replace(CONFIG_SLOT, json.dumps(config))
