"""Visits and ledgers (issue 6 item 4): a cadre's visit from a phone, the household's
running ledger (一户一册一卡), the three ledgers and the printable booklet (PDF)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pypdf
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from fupin.core.models import AuditEntry
from fupin.core.testing import person
from fupin.registry.services import transition_household
from fupin.support import services
from fupin.support.models import Cadre, LedgerEntry, Pairing, Visit

VILLAGE = "450102100201"  # 三塘村
DAY = dt.date(2017, 3, 2)
# The smallest valid PNG: a photo as a phone's camera would send it, only smaller.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture
def household(county_user: Any, make_household: Callable[..., Any]) -> Any:
    h = make_household(head_name="韦秀英", main_cause="9")
    for step, date in (
        ("propose", dt.date(2016, 12, 10)),
        ("start_notice", dt.date(2016, 12, 11)),
        ("register", dt.date(2016, 12, 20)),
    ):
        transition_household(county_user, h, step, reason="test", date=date)
    h.refresh_from_db()
    return h


def make_cadre(areas: Any, user: Any = None, name: str = "黄干部") -> Cadre:
    return Cadre.objects.create(
        name=name,
        sex="1",
        id_number=person(area="450102", born=dt.date(1980, 1, 1))["id_number"],
        employer="兴宁区农业局",
        level="county",
        area=areas["450102"],
        user=user,
    )


@pytest.fixture
def cadre_user(make_user: Callable[..., Any]) -> Any:
    return make_user("huang", VILLAGE, "support_cadre")


@pytest.fixture
def cadre(areas: Any, cadre_user: Any, household: Any, county_user: Any) -> Cadre:
    c = make_cadre(areas, cadre_user)
    Pairing.objects.create(
        cadre=c, household=household, started_on=dt.date(2017, 1, 1), created_by=county_user
    )
    return c


# -- visits --------------------------------------------------------------------------------


def test_a_paired_cadre_records_a_visit_with_location_and_photos(
    cadre_user: Any, cadre: Cadre, household: Any
) -> None:
    """Issue 6 item 4: a cadre records a visit from a phone — date, GPS, what was done,
    photos, the household's needs; audited."""
    photo = SimpleUploadedFile("门口.png", PNG, content_type="image/png")
    visit = services.record_visit(
        cadre_user,
        household,
        date=DAY,
        latitude=Decimal("22.8765432"),
        longitude=Decimal("108.3"),
        work_done="  宣讲小额信贷政策  ",
        needs="想养牛",
        photos=[photo],
    )
    assert visit.cadre == cadre and visit.work_done == "宣讲小额信贷政策"
    assert visit.latitude == Decimal("22.876543")
    assert [p.name for p in visit.photos.all()] == ["门口.png"]
    entry = AuditEntry.objects.get(action="support.visit.create")
    assert entry.area_code == VILLAGE and entry.after["photos"][0]["name"] == "门口.png"


def test_a_cadre_not_paired_on_that_day_is_refused(
    areas: Any, cadre: Cadre, household: Any, make_user: Callable[..., Any]
) -> None:
    """DOMAIN.md §4: a cadre visits the households paired with them; the pairing began
    2017-01-01, so a visit dated before it is not theirs, nor is another cadre's."""
    with pytest.raises(ValidationError) as err:
        services.record_visit(cadre.user, household, date=dt.date(2016, 12, 31), work_done="走访")
    assert "未与该户结对" in str(err.value.message_dict["cadre"])  # not paired that day
    other_user = make_user("other", VILLAGE, "support_cadre")
    make_cadre(areas, other_user, "别的干部")
    with pytest.raises(ValidationError) as err:
        services.record_visit(other_user, household, date=DAY, work_done="走访")
    assert "未与该户结对" in str(err.value.message_dict["cadre"])  # not paired that day


def test_a_manager_records_a_visit_by_any_cadre_of_the_area(
    areas: Any, county_user: Any, household: Any
) -> None:
    """A manager of support (manage_support) may record a resident-team member's visit."""
    unpaired = make_cadre(areas, None, "驻村队员")
    visit = services.record_visit(
        county_user, household, date=DAY, work_done="核实收入", cadre=unpaired
    )
    assert visit.cadre == unpaired and visit.recorded_by == county_user


def test_visit_input_is_checked(cadre_user: Any, cadre: Cadre, household: Any) -> None:
    photo = SimpleUploadedFile("notes.txt", b"x", content_type="text/plain")
    future = dt.date.today() + dt.timedelta(days=2)
    with pytest.raises(ValidationError) as err:
        services.record_visit(
            cadre_user,
            household,
            date=future,
            latitude=Decimal("22.8"),
            work_done=" ",
            photos=[photo],
        )
    assert set(err.value.message_dict) == {"date", "latitude", "work_done", "photos"}
    assert not Visit.objects.exists()


def test_visit_page_is_phone_ready(
    client: Client, cadre_user: Any, cadre: Cadre, household: Any
) -> None:
    """The phone page: location by the browser (a static script, no inline JS), photos
    from the camera; posting it records the visit."""
    client.force_login(cadre_user)
    url = reverse("support:visit_create", args=[household.pk])
    html = client.get(url).content.decode()
    assert 'accept="image/*"' in html and "capture=" in html
    assert "support/visit.js" in html
    assert "<script>" not in html and 'name="cadre"' not in html
    response = client.post(
        url,
        {
            "date": "2017-03-02",
            "latitude": "22.812345",
            "longitude": "108.398765",
            "work_done": "帮助联系养牛技术员",
            "needs": "",
            "photos": [SimpleUploadedFile("a.png", PNG, content_type="image/png")],
        },
    )
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert (visit.latitude, visit.cadre) == (Decimal("22.812345"), cadre)
    photo = visit.photos.get()
    got = client.get(reverse("support:visit_photo", args=[household.pk, visit.pk, photo.pk]))
    assert got.status_code == 200 and b"".join(got.streaming_content) == PNG


# -- the ledger ----------------------------------------------------------------------------


def test_ledger_running_balance_by_year(county_user: Any, household: Any) -> None:
    """Seed 000 (Guangxi): 一户一册一卡, 为每一户贫困户建立日常收支台帐 — a running balance,
    kept per year in date order whatever the order of entry."""
    add = services.add_ledger_entry
    add(
        county_user,
        household,
        date=dt.date(2017, 2, 1),
        direction="expense",
        category="medical",
        amount=Decimal("300"),
    )
    add(
        county_user,
        household,
        date=dt.date(2017, 1, 10),
        direction="income",
        category="wage",
        amount=Decimal("2000"),
    )
    add(
        county_user,
        household,
        date=dt.date(2016, 12, 30),
        direction="income",
        category="crops",
        amount=Decimal("500"),
    )
    add(
        county_user,
        household,
        date=dt.date(2017, 2, 1),
        direction="income",
        category="transfer",
        amount=Decimal("150.50"),
    )
    years = services.ledger_by_year(LedgerEntry.objects.filter(household=household))
    assert [y.year for y in years] == [2017, 2016]
    assert [line.balance for line in years[0].lines] == [
        Decimal("2000"),
        Decimal("1700"),
        Decimal("1850.50"),
    ]
    assert (years[0].income, years[0].expense, years[0].balance) == (
        Decimal("2150.50"),
        Decimal("300"),
        Decimal("1850.50"),
    )
    assert years[1].balance == Decimal("500")
    assert AuditEntry.objects.filter(action="support.ledger.add").count() == 4


def test_ledger_categories_come_from_policy(county_user: Any, household: Any) -> None:
    """measures.toml [ledger]: an expense cannot be booked under an income category."""
    with pytest.raises(ValidationError) as err:
        services.add_ledger_entry(
            county_user,
            household,
            date=DAY,
            direction="expense",
            category="wage",
            amount=Decimal("0"),
        )
    assert set(err.value.message_dict) == {"category", "amount"}


def test_support_page_shows_the_three_ledgers(
    client: Client, county_user: Any, cadre_user: Any, cadre: Cadre, household: Any
) -> None:
    """DOMAIN.md §4 户户3本账 (Gansu): plan, measures and work log on one page; the work log
    holds the visits and the measures' progress."""
    plan = services.make_plan(county_user, household, "年内脱贫")
    services.add_measure(
        county_user,
        plan,
        {
            "category": "microcredit",
            "kind": "microcredit.loan",
            "target": "贷款养牛",
            "amount": Decimal("50000"),
            "funding_source": "农商行",
            "starts_on": DAY,
            "responsible": "黄干部",
            "status": "under_way",
            "progress": 40,
        },
        plan.version,
    )
    services.record_visit(cadre_user, household, date=DAY, work_done="查看牛棚建设")
    services.add_ledger_entry(
        county_user, household, date=DAY, direction="income", category="wage", amount=Decimal("800")
    )
    client.force_login(county_user)
    html = client.get(reverse("support:household_support", args=[household.pk])).content.decode()
    for text in ("年内脱贫", "贷款养牛", "查看牛棚建设", "40 %", "800.00"):
        assert text in html
    for section in ('id="plan"', 'id="measures"', 'id="work-log"', 'id="ledger"'):
        assert section in html


# -- the booklet ---------------------------------------------------------------------------


def test_booklet_pdf_has_the_households_name_in_an_embedded_cjk_font(
    client: Client, county_user: Any, cadre_user: Any, cadre: Cadre, household: Any
) -> None:
    """DOMAIN.md §4 一户一册 (Guangxi): a printable booklet per household, as a PDF with
    Chinese text; resident IDs masked."""
    services.record_visit(cadre_user, household, date=DAY, work_done="宣讲政策")
    services.add_ledger_entry(
        county_user, household, date=DAY, direction="income", category="wage", amount=Decimal("800")
    )
    client.force_login(county_user)
    response = client.get(reverse("support:booklet_pdf", args=[household.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    text = "".join(page.extract_text() for page in reader.pages)
    assert "韦秀英" in text and "宣讲政策" in text
    member = household.members.first()
    assert member.id_number not in text and member.masked_id in text
    fonts = {
        str(font.get_object()["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert any("Fupin-Sans" in name for name in fonts)


def test_booklet_printable_page(client: Client, county_user: Any, household: Any) -> None:
    client.force_login(county_user)
    html = client.get(reverse("support:booklet", args=[household.pk])).content.decode()
    assert "韦秀英" in html and "noto-sans-sc-5.3.0" in html
