"""Browser tests: JupyterLab and Voila on loopback, driven in headless Chromium by Playwright.

Locally they are skipped when Chromium or Playwright is missing; with TEXTGEN_REQUIRE_BROWSER=1
(CI sets it) a missing browser is a failure instead. On failure each test saves the page's
screenshot and the browser console log under ``test-artifacts/browser/`` and prints their paths.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("TEXTGEN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
REQUIRED = os.environ.get("TEXTGEN_REQUIRE_BROWSER", "") == "1"
BIN = Path(sys.executable).parent


def _missing_browser() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[browser]')"
    return None


@pytest.fixture(scope="session")
def browser():
    missing = _missing_browser()
    if missing:
        if REQUIRED:
            pytest.fail(f"browser tests must run here (TEXTGEN_REQUIRE_BROWSER=1) but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def page(browser, request):
    """A fresh page; its console is recorded, and on failure it leaves a screenshot and the log."""
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(f"[{message.type}] {message.text}"))
    page.on("pageerror", lambda error: console.append(f"[pageerror] {error}"))
    page.console_log = console
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        stem = request.node.name
        shot, log = ARTIFACTS / f"{stem}.png", ARTIFACTS / f"{stem}.console.log"
        try:
            page.screenshot(path=str(shot), full_page=True)
        except Exception as err:  # noqa: BLE001 - a failing page may not screenshot; keep the log anyway
            console.append(f"[screenshot failed] {err}")
        log.write_text("\n".join(console) + "\n")
        print(f"\nbrowser artifacts for {stem}:\n  screenshot: {shot}\n  console log: {log}")
    context.close()


def _tail(process) -> str:
    try:
        return Path(process.log_path).read_text()[-2000:]
    except (AttributeError, OSError):
        return "(no log)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {_tail(process)}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {_tail(process)}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.25)
    raise TimeoutError(f"port {port} did not open within {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@pytest.fixture
def lab_server():
    """JupyterLab on loopback, as root if need be, with its own settings, workspaces and a copy of notebook 05."""
    home = Path(tempfile.mkdtemp(prefix="textgen-lab-"))
    root_dir, settings, workspaces = home / "notebooks", home / "settings", home / "workspaces"
    root_dir.mkdir()
    shutil.copy(ROOT / "notebooks" / "05_temperature_slider.ipynb", root_dir)
    notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port = free_port()
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(workspaces),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "TEXTGEN_FAST": "0"}
    log = open(home / "server.log", "w")
    process = subprocess.Popen(
        [str(BIN / "jupyter"), "lab", "--no-browser", "--allow-root", f"--port={port}", "--port-retries=0",
         "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=", "--ServerApp.password=",
         "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root_dir}", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, text=True, env=env, cwd=root_dir)
    process.log_path = home / "server.log"
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/api/status", process)
        yield base
    finally:
        try:  # kernels outlive the browser: shut them down through the API first
            with urllib.request.urlopen(f"{base}/api/sessions", timeout=5) as response:
                sessions = json.load(response)
            for session in sessions:
                request = urllib.request.Request(f"{base}/api/sessions/{session['id']}", method="DELETE")
                urllib.request.urlopen(request, timeout=10).close()
        except OSError:
            pass
        stop(process)
        log.close()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def voila_server():
    """Voila serving the standalone slider page (apps/slider.ipynb) on loopback."""
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix="textgen-voila-"))
    log = open(home / "server.log", "w")
    process = subprocess.Popen(
        [str(BIN / "voila"), str(ROOT / "apps" / "slider.ipynb"), "--no-browser", f"--port={port}",
         "--Voila.ip=127.0.0.1", "--show_tracebacks=True"],
        stdout=log, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env={**os.environ, "JUPYTER_RUNTIME_DIR": str(home)})
    process.log_path = home / "server.log"
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, process)  # a GET on the page would start a kernel; wait for the socket only
        yield base
    finally:
        stop(process)
        log.close()
        shutil.rmtree(home, ignore_errors=True)
