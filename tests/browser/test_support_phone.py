"""A support cadre's day on a phone, through the real server, in Debian's Chromium driven by
Playwright (issue 6, "Done when": a browser test at a phone's screen size).

The server is a real `fupin runserver` process on a fresh SQLite database with a small demo
county, whose demo user `support_cadre` is paired with a household of the demo village
(fupin/support/demo.py). At 390×844 with touch and a mocked location near that village, the
cadre logs in, records a visit whose location the page fills from the browser, adds a
measure from the plan's suggestions, and finds both on the household's support page (the
three ledgers) and in its booklet, as HTML and as PDF.
"""

from __future__ import annotations

import re

import pytest

from fupin.registry.demo import DEMO_PASSWORD
from fupin.support.demo import village_centre
from tests.browser.conftest import HAS_CHROMIUM, DemoServer

PHONE = {"width": 390, "height": 844}
VISIT_TEXT = "入户核实务工收入，宣讲扶贫小额信贷政策"
MEASURE_TARGET = "林下养鸡200羽，年增收4000元"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not HAS_CHROMIUM, reason="Debian's chromium is not installed"),
]


@pytest.fixture
def server(demo_server: DemoServer) -> tuple[str, str]:
    """The server's URL and the demo village's code (from the demo's users table)."""
    found = re.search(
        r"^support_cadre\s+support_cadre\s+(\d{12})\s", demo_server.report, re.MULTILINE
    )
    assert found, demo_server.report
    return demo_server.url, found.group(1)


def _scroll_width(page: object) -> int:
    return int(page.evaluate("document.scrollingElement.scrollWidth"))  # type: ignore[attr-defined]


def test_cadre_records_a_visit_and_a_measure_on_a_phone(
    server: tuple[str, str], browser: object
) -> None:
    url, village = server
    lat, lon = (float(c) for c in village_centre(village))
    # At the household's door, a few hundred metres from the village centre.
    here = {"latitude": lat + 0.0012, "longitude": lon - 0.0008}
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation=here,
        permissions=["geolocation"],
        locale="zh-CN",
    )
    page = context.new_page()
    page.set_default_timeout(15000)

    # Log in on the phone.
    page.goto(f"{url}/")
    page.fill("input[name=username]", "support_cadre")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form:has(input[name=password]) button[type=submit]")
    page.wait_for_url(lambda u: "/login/" not in u)

    # His households, through the collapsed menu: 帮扶 → 我的帮扶户.
    page.click("button.navbar-toggler")
    page.click("a.dropdown-toggle:has(i.bi-hand-thumbs-up)")
    page.click("a.dropdown-item:has(i.bi-person-check)")
    page.wait_for_url(re.compile(r"/support/cadres/\d+/$"))
    page.locator("table a[href^='/households/']").first.click()
    page.wait_for_url(re.compile(r"/households/\d+/$"))
    household = re.search(r"/households/(\d+)/$", page.url).group(1)  # type: ignore[union-attr]
    support_url = f"{url}/support/households/{household}/"
    # The registry page's support panel leads to the support page.
    page.click(f"a[href='/support/households/{household}/']")
    page.wait_for_url(support_url)

    # Record a visit: the page asks the browser for the location at once.
    page.click(f"a[href='/support/households/{household}/visits/new/']")
    page.wait_for_url(re.compile(r"/visits/new/$"))
    latitude, longitude = (
        page.locator("input[name=latitude]"),
        page.locator("input[name=longitude]"),
    )
    page.wait_for_function(
        "document.querySelector('input[name=latitude]').value !== ''"
        " && document.querySelector('input[name=longitude]').value !== ''"
    )
    assert abs(float(latitude.input_value()) - here["latitude"]) < 1e-5
    assert abs(float(longitude.input_value()) - here["longitude"]) < 1e-5
    assert _scroll_width(page) <= PHONE["width"] + 1  # no sideways scrolling on the phone
    page.fill("textarea[name=work_done]", VISIT_TEXT)
    page.fill("textarea[name=needs]", "希望参加养殖技术培训")
    page.click("form.visit-form button[type=submit]")
    page.wait_for_url(support_url)

    # Add a measure from the suggestions made by the household's causes.
    suggestion = page.locator(".plan-suggestions a").first
    suggested_kind = re.search(r"kind=([\w.]+)", suggestion.get_attribute("href") or "")
    assert suggested_kind is not None
    suggestion.click()
    page.wait_for_url(re.compile(r"/measures/new/\?kind="))
    assert page.locator("select[name=kind]").input_value() == suggested_kind.group(1)
    page.fill("textarea[name=target]", MEASURE_TARGET)
    page.fill("input[name=amount]", "3000")
    page.fill("input[name=funding_source]", "财政专项扶贫资金（产业奖补）")
    page.fill("input[name=responsible]", "覃振华")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(support_url)

    # The three ledgers: the measure is in the measures, the visit in the work log.
    assert MEASURE_TARGET in page.locator("#measures").inner_text()
    assert VISIT_TEXT in page.locator("#work-log").inner_text()
    visits = page.locator("#visits").inner_text()
    assert VISIT_TEXT in visits and f"{here['latitude']:.6f}" in visits

    # The booklet shows both, as a page and as a PDF.
    page.goto(f"{support_url}booklet/")
    booklet = page.locator("body").inner_text()
    assert VISIT_TEXT in booklet and MEASURE_TARGET in booklet
    pdf = page.request.get(f"{support_url}booklet.pdf")
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    context.close()
