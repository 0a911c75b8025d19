"""A person's journey through the real server, in Debian's Chromium driven by Playwright.

The server is a real `fupin runserver` process on a fresh SQLite database with a small
demo county, exactly what `make demo` brings up: log in, find a household, edit it, and see
the change in its history (issue: the registry platform, "Done when").
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("fupin-data")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"FUPIN_DATA_DIR": str(data), "DJANGO_SETTINGS_MODULE": "fupin.settings"}
    _fupin(env, "migrate", "--no-input")
    _fupin(env, "demo", "--households", "40", "--seed", "7")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fupin.cli", "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
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


def test_log_in_find_edit_and_see_the_change_in_history(server: str, browser: object) -> None:
    page = browser.new_page(locale="zh-CN")  # type: ignore[attr-defined]
    page.set_default_timeout(15000)
    page.goto(f"{server}/households/")
    # Not logged in: the login page, in Chinese.
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.fill("input[name=username]", "county_officer")
    page.fill("input[name=password]", "fupin-demo-2017")
    page.click("form:has(input[name=password]) button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)

    # Find a household by its head's name with the search box (htmx swaps the table).
    first_row_head = page.locator("table tbody tr td:nth-child(2)").first.inner_text().strip()
    page.fill("input[name=q]", first_row_head)
    page.wait_for_url(lambda url: "q=" in url)
    page.wait_for_load_state("networkidle")  # the table swap has landed
    page.locator("table tbody tr a").first.click()
    page.wait_for_url(lambda url: re.search(r"/households/\d+/$", url) is not None)
    detail_url = page.url
    assert first_row_head in page.content()

    # Edit it: a new phone number, with the reason for the change.
    page.click("a[href$='/edit/']")
    page.wait_for_url("**/edit/")
    page.fill("input[name=phone]", "13977123456")
    if page.locator("[name=reason]").count():
        page.fill("[name=reason]", "户主更换了手机号码")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(detail_url)

    # The change is shown, and it is in the household's history with its reason.
    body = page.content()
    assert "13977123456" in body
    history = page.locator("text=户主更换了手机号码")
    assert history.count() >= 1
    page.close()
