"""The browser tests' real server and browser, shared by every browser test.

The server is a real `fupin runserver` process on a fresh SQLite database with a small demo
county (`fupin demo --households 40 --seed 7`), exactly what `make demo` brings up; it is
built once per session. Debian's Chromium is driven by Playwright (never downloaded).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAS_CHROMIUM = Path(CHROMIUM).exists()


@dataclass(frozen=True)
class DemoServer:
    url: str
    #: What `fupin demo` printed (its users table names the demo areas).
    report: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fupin(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fupin.cli", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    data = tmp_path_factory.mktemp("fupin-data")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"FUPIN_DATA_DIR": str(data), "DJANGO_SETTINGS_MODULE": "fupin.settings"}
    _fupin(env, "migrate", "--no-input")
    report = _fupin(env, "demo", "--households", "40", "--seed", "7").stdout
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fupin.cli", "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    try:
        yield DemoServer(f"http://127.0.0.1:{port}", report)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()
