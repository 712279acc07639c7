"""The web view's page in a real headless browser (Debian's ``chromium`` + ``chromium-driver``, driven by Selenium).

``python -m device --serve`` runs as a process on a live source (a :class:`device.web.WebView` in this process
feeding astronaut frames at 15 FPS, opened by the demo as a stream URL). The page must show the video (the
``<img>`` decoded a frame), a label from the events and the pipeline's settings, and pick everything up again by
itself after the device restarts.

Without chromium, chromedriver or selenium these tests skip with the reason; CI (``.ci/run``) installs them and
exports ``FEREDGE_REQUIRE_BROWSER=1``, which turns the skip into a failure.

The README's screenshot ``docs/web-view.png`` is made by this test::

    FEREDGE_SCREENSHOT=docs/web-view.png .venv/bin/python -m pytest tests/device/test_web_browser.py

(with the project's default model when ``models/`` has it, else the tiny fixture model).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from needs import unavailable

from core.labels import EMOTIONS
from device.demo import default_model_path

REQUIRE_BROWSER = "FEREDGE_REQUIRE_BROWSER"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,860")


def browser_unavailable(reason: str) -> NoReturn:
    """Skip, or fail under ``FEREDGE_REQUIRE_BROWSER=1`` (CI: the browser test must run there)."""
    unavailable(REQUIRE_BROWSER, reason, "the browser test must run here (CI installs chromium, chromium-driver and "
                "selenium)")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator:
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
    except ImportError:
        browser_unavailable("selenium is not installed (pip install -r requirements/dev.txt)")
    binary = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        browser_unavailable("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    try:  # an explicit chromedriver: Selenium Manager never tries to download one
        driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)
    except WebDriverException as exc:
        browser_unavailable(f"chromium did not start: {exc.msg}")
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def start_demo(cwd: Path, source: str, model: Path, serve: str) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "device", "--source", source, "--model", str(model), "--headless", "--serve", serve]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=cwd)
    line = proc.stderr.readline()
    match = re.search(r"serving the web view on (http://\S+/)", line)
    if match is None:
        proc.kill()
        raise AssertionError(f"no address in {line!r}: {proc.communicate()[1]}")
    return proc, match.group(1)


def stop_demo(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "stopped: interrupted" in err, err
    return err


def wait_until(driver, script: str, timeout: float = 30.0, what: str = ""):
    """Polls ``script`` (a JS expression) until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(f"return ({script});")
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"page: timed out after {timeout} s waiting for {what or script}")
        time.sleep(0.1)


VIDEO_SHOWN = "document.getElementById('stream').complete && document.getElementById('stream').naturalWidth"
LABEL_SHOWN = "[...document.querySelectorAll('#faces .face .label')].map(e => e.textContent).join(',')"
INFO_MODEL = "(document.querySelector('#info .info-model') || {}).textContent"


def test_page_shows_video_labels_and_settings_and_reconnects(browser, tmp_path: Path, repo_root: Path,
                                                               float_model: Path, int8_model: Path,
                                                               live_camera: str) -> None:
    screenshot = os.environ.get("FEREDGE_SCREENSHOT")
    first_model = default_model_path() if screenshot and default_model_path().is_file() else float_model
    proc, url = start_demo(tmp_path, live_camera, first_model, "127.0.0.1:0")
    port = re.search(r":(\d+)/$", url).group(1)
    try:
        browser.get(url)
        assert wait_until(browser, VIDEO_SHOWN, what="a video frame in the <img>") == 512
        labels = wait_until(browser, LABEL_SHOWN, what="a face's label from the events").split(",")
        assert labels and all(label in EMOTIONS for label in labels), labels
        assert wait_until(browser, INFO_MODEL, what="the model's name") == first_model.name
        bars = browser.execute_script("return document.querySelectorAll('#faces .face .bar').length")
        assert bars == len(EMOTIONS) * len(labels)
        wait_until(browser, "/^[0-9.]+/.test(document.getElementById('fps').textContent)", what="the FPS")
        stages = browser.execute_script("return document.getElementById('stages').textContent")
        assert all(stage in stages for stage in ("capture", "detect", "classify", "draw")), stages
        assert browser.execute_script("return document.getElementById('conn').textContent") == "live"
        if screenshot:
            time.sleep(1.5)  # a few frames of smoothing and a status poll
            path = Path(screenshot) if Path(screenshot).is_absolute() else repo_root / screenshot
            assert browser.save_screenshot(str(path)), path
        old_src = browser.execute_script("return document.getElementById('stream').src")

        stop_demo(proc)  # the device restarts: same address, another model
        wait_until(browser, "document.getElementById('conn').className === 'bad'", what="the page to notice")
        proc, _ = start_demo(tmp_path, live_camera, int8_model, f"127.0.0.1:{port}")
        assert wait_until(browser, f"{INFO_MODEL} === '{int8_model.name}' && 'yes'", 40, "the new model") == "yes"
        wait_until(browser, f"document.getElementById('stream').src !== '{old_src}' && {VIDEO_SHOWN}", 40,
                   "the video reloaded")
        wait_until(browser, "document.getElementById('conn').textContent === 'live'", 40, "events again")
        frame = wait_until(browser, "document.getElementById('frame').textContent", what="a frame number")
        assert int(frame) >= 0
        wait_until(browser, f"document.getElementById('frame').textContent !== '{frame}' && 'yes'", 40,
                   "the new device's frame number to move on")
    finally:
        if proc.poll() is None:
            stop_demo(proc)
    logs = browser.get_log("browser")
    errors = [entry for entry in logs if entry.get("level") == "SEVERE" and "stream.mjpg" not in entry["message"]
              and "events" not in entry["message"] and "healthz" not in entry["message"]]
    assert not errors, errors  # no script errors (failed requests while the device was down are expected)

