"""A person's journey through the real server, in Debian's Chromium driven by Playwright.

The server is a real `fupin runserver` process on a fresh SQLite database with a small
demo county, exactly what `make demo` brings up: log in, find a household, edit it, and see
the change in its history (issue: the registry platform, "Done when").
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import HAS_CHROMIUM, DemoServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not HAS_CHROMIUM, reason="Debian's chromium is not installed"),
]


@pytest.fixture
def server(demo_server: DemoServer) -> str:
    return demo_server.url


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
