"""Exports (issue 3, item 3): any filtered household list to CSV and xlsx, households or
members, with no row cap, scoped to the user's area and with IDs masked by role."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from fupin.core import jobs
from fupin.core.models import JobRun, JobState
from fupin.core.testing import person
from fupin.registry import exports, services
from fupin.registry.models import Household, Member

EXPORT = reverse("registry:household_export")


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def world(make_household: Any, make_user: Any) -> dict[str, Household]:
    """Households in two townships of 兴宁区 and one in 青秀区 (another county)."""
    province = make_user("province", "45", "administrator")
    made = {
        "santang": make_household(
            village="450102100201", head_name="张三", income={"year": 2016, "wage": 2000}
        ),
        "sitang": make_household(
            village="450102100202", head_name="赵六", income={"year": 2016, "wage": 20000}
        ),
        "wutang": make_household(village="450102101201", head_name="钱七"),
    }
    made["other_county"] = services.create_household(
        province,
        {"village": "450103100201", "head_name": "李四", "main_cause": "1"},
        [person(area="450103", has_chronic_illness=True), person("02", male=False, area="450103")],
        {"year": 2016, "wage": 5000},
    )
    return made


def read_csv(path_or_bytes: Path | bytes) -> list[list[str]]:
    data = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def read_xlsx(path_or_bytes: Path | bytes) -> list[list[list[Any]]]:
    """Every sheet's rows (header included)."""
    source = path_or_bytes if isinstance(path_or_bytes, Path) else io.BytesIO(path_or_bytes)
    wb = load_workbook(source, read_only=True)
    sheets = [[list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets]
    wb.close()
    return sheets


def export(user: Any, tmp_path: Path, fmt: str, members: bool = False, **filters: str) -> Any:
    path = tmp_path / f"out.{fmt}"
    query = {k: [v] for k, v in filters.items()}
    counts = exports.export_to_path(user, query, path, fmt=fmt, members=members)
    if fmt == "csv":
        table = read_csv(path)
        sheets = 1
    else:
        all_sheets = read_xlsx(path)
        sheets = len(all_sheets)
        table = all_sheets[0][:1] + [r for s in all_sheets for r in s[1:]]
    assert counts["rows"] == len(table) - 1
    assert counts.get("sheets", 1) == sheets
    return table


def codes(table: list[list[Any]]) -> set[str]:
    return {str(row[0]).strip() for row in table[1:]}


def people(households: list[Household]) -> set[str]:
    return set(
        Member.objects.filter(household__in=households, left_on__isnull=True).values_list(
            "id_number", flat=True
        )
    )


# -- scope -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("members", [False, True], ids=["households", "members"])
def test_export_of_a_scoped_user_contains_exactly_that_users_area(
    make_user, world, tmp_path, fmt, members
) -> None:
    """Issue 3, done when: "export of a scoped user contains exactly that user's area"."""
    cases = {
        "450102": ["santang", "sitang", "wutang"],
        "450102100": ["santang", "sitang"],
        "450102100202": ["sitang"],
        "450103": ["other_county"],
        "45": ["santang", "sitang", "wutang", "other_county"],
    }
    for area, expected in cases.items():
        user = make_user(f"officer-{area}", area, "data_officer")  # sees full IDs
        table = export(user, tmp_path, fmt, members)
        wanted = [world[k] for k in expected]
        assert codes(table) == {h.code for h in wanted}, area
        if members:
            id_col = [c.name for c in exports.member_columns(True)].index("id_number")
            exported = {str(r[id_col]).strip() for r in table[1:]}
            assert exported == people(wanted), area
        else:
            assert len(table) - 1 == len(wanted)


@pytest.mark.django_db
def test_a_filter_cannot_widen_the_scope(make_user, world, tmp_path) -> None:
    user = make_user("officer", "450102", "data_officer")
    assert codes(export(user, tmp_path, "csv", area="450103")) == set()
    assert codes(export(user, tmp_path, "xlsx", True, area="45")) == {
        world[k].code for k in ("santang", "sitang", "wutang")
    }


@pytest.mark.django_db
def test_a_user_without_an_area_exports_nothing(world, tmp_path) -> None:
    from fupin.core.models import User

    user = User.objects.create_user("nowhere", password="x", roles=["data_officer"])
    assert codes(export(user, tmp_path, "csv")) == set()


# -- filters ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_filters_apply(county_user, world, tmp_path, fmt) -> None:
    poor = {world["santang"].code}  # 1,000 a person; 钱七 has 3,000, 赵六 10,000
    assert codes(export(county_user, tmp_path, fmt, income_band="lt3000")) == poor
    assert codes(export(county_user, tmp_path, fmt, area="450102101")) == {world["wutang"].code}
    members = export(county_user, tmp_path, fmt, True, area="450102101")
    assert codes(members) == {world["wutang"].code} and len(members) == 1 + 2


@pytest.mark.django_db
def test_unreadable_filters_are_refused(county_user, world, tmp_path) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        export(county_user, tmp_path, "csv", status="nonsense")


# -- privacy ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("members", [False, True], ids=["households", "members"])
def test_ids_are_masked_unless_the_role_may_see_them(
    make_user, world, tmp_path, fmt, members
) -> None:
    """DESIGN.md privacy: resident IDs masked everywhere except where the role needs them."""
    ids = people([world["santang"]])
    head = world["santang"].members.get(relation="01")
    reviewer = make_user("reviewer", "450102", "reviewer")  # may export, not see full IDs
    text = repr(export(reviewer, tmp_path, fmt, members, area="450102100201"))
    assert not any(n in text for n in ids)
    assert head.masked_id in text
    officer = make_user("officer", "450102", "data_officer")
    text = repr(export(officer, tmp_path, fmt, members, area="450102100201"))
    assert all(n in text for n in (ids if members else {head.id_number}))


# -- no row cap ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_full_sheet_continues_on_the_next(county_user, world, tmp_path, monkeypatch) -> None:
    """No truncation: past a sheet's last row (1,048,576 in Excel) the rows go on a new sheet."""
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 3)  # a header and two rows a sheet
    path = tmp_path / "out.xlsx"
    with translation.override("en"):
        counts = exports.export_to_path(county_user, {}, path, fmt="xlsx", members=True)
    sheets = read_xlsx(path)
    assert counts == {"rows": 6, "sheets": 3}
    assert [len(s) for s in sheets] == [3, 3, 3]
    assert all(s[0] == sheets[0][0] for s in sheets)  # each sheet has the header
    wb = load_workbook(path, read_only=True)
    assert wb.sheetnames == ["Members", "Members (2)", "Members (3)"]
    wb.close()


# -- cells -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_cells_are_readable_in_excel(county_user, make_household, tmp_path) -> None:
    h = make_household(head_name="=HYPERLINK(1)", income={"year": 2016, "wage": 2500})
    table = export(county_user, tmp_path, "csv")
    row = table[1]
    assert row[0] == "\t" + h.code  # Excel keeps the digits as text
    assert "'=HYPERLINK(1)" in row  # never evaluated as a formula
    sheet = export(county_user, tmp_path, "xlsx")
    assert sheet[1][0] == h.code
    assert "'=HYPERLINK(1)" in sheet[1]
    income_col = table[0].index(str(Household._meta.get_field("per_capita_income").verbose_name))
    assert table[1][income_col] == "1250.00"
    assert float(sheet[1][income_col]) == 1250.0


# -- the page and the job --------------------------------------------------------------------


def login(client: Any, user: Any) -> Any:
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.mark.django_db
def test_the_page_streams_a_small_csv(client, county_user, world) -> None:
    response = login(client, county_user).post(f"{EXPORT}?area=450102100", {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    table = read_csv(b"".join(response.streaming_content))
    assert codes(table) == {world["santang"].code, world["sitang"].code}
    members = login(client, county_user).get(EXPORT, {"rows": "members", "area": "450102101"})
    assert len(read_csv(b"".join(members.streaming_content))) == 1 + 2


@pytest.mark.django_db
def test_xlsx_from_the_page_runs_as_a_job(client, make_user, world) -> None:
    officer = make_user("officer", "450102", "data_officer")
    response = login(client, officer).post(
        f"{EXPORT}?area=450102100&page=2&sort=code", {"format": "xlsx", "rows": "members"}
    )
    job = JobRun.objects.get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.kind == "registry.export" and job.state == JobState.SUCCEEDED, job.error
    assert job.area_id == "450102100"
    assert job.params["filters"] == {"area": ["450102100"]}
    assert job.counts["rows"] == 4 and job.result_name.endswith(".xlsx")
    page = client.get(job.get_absolute_url()).content.decode()
    assert reverse("jobs:result", args=[job.pk]) in page
    download = client.get(reverse("jobs:result", args=[job.pk]))
    sheets = read_xlsx(b"".join(download.streaming_content))
    assert codes(sheets[0]) == {world["santang"].code, world["sitang"].code}

    # The file holds full IDs: a reviewer of the same area (no view_full_id) may not have it;
    # a viewer (no export) neither; an officer of another county does not even see the job.
    reviewer = make_user("reviewer", "450102", "reviewer")
    assert login(client, reviewer).get(reverse("jobs:result", args=[job.pk])).status_code == 403
    viewer = make_user("viewer", "450102", "viewer")
    assert login(client, viewer).get(reverse("jobs:result", args=[job.pk])).status_code == 403
    stranger = make_user("stranger", "450103", "data_officer")
    assert login(client, stranger).get(reverse("jobs:result", args=[job.pk])).status_code == 404


@pytest.mark.django_db
def test_a_large_csv_from_the_page_runs_as_a_job(client, county_user, world, monkeypatch) -> None:
    monkeypatch.setattr(exports, "DIRECT_CSV_ROWS", 2)
    response = login(client, county_user).post(EXPORT, {"format": "csv"})
    job = JobRun.objects.get()
    assert response.status_code == 302 and job.state == JobState.SUCCEEDED, job.error
    assert job.area_id == "450102"
    content = b"".join(client.get(reverse("jobs:result", args=[job.pk])).streaming_content)
    assert len(read_csv(content)) == 1 + 3
    # Below the limit it streams at once.
    response = client.post(f"{EXPORT}?area=450102101", {"format": "csv"})
    assert response.status_code == 200 and JobRun.objects.count() == 1


@pytest.mark.django_db
def test_the_page_refuses_what_it_cannot_export(client, county_user, make_user, world) -> None:
    login(client, county_user)
    assert client.get(EXPORT, {"format": "xlsx"}).status_code == 400
    assert client.post(EXPORT, {"format": "pdf"}).status_code == 400
    assert client.post(f"{EXPORT}?status=nonsense", {"format": "xlsx"}).status_code == 400
    assert JobRun.objects.count() == 0
    viewer = make_user("viewer", "450102", "viewer")
    assert login(client, viewer).post(EXPORT, {"format": "xlsx"}).status_code == 403


@pytest.mark.django_db
def test_the_export_job_follows_the_users_role_when_it_runs(county_user, world) -> None:
    job = exports.start_export_job(county_user, {}, fmt="csv", members=False, area_code=None)
    assert job.state == JobState.SUCCEEDED and job.params["full_id"] is True
    assert jobs.can_download(county_user, job)


# -- the command -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_export_command(county_user, world, tmp_path) -> None:
    out = tmp_path / "members.xlsx"
    stdout = io.StringIO()
    # As on the command line (the pages tested before may have left English active).
    with translation.override(settings.LANGUAGE_CODE):
        call_command(
            "export",
            "--user",
            county_user.username,
            "--filter",
            "area=450102100",
            "--format",
            "xlsx",
            "--members",
            "--out",
            str(out),
            stdout=stdout,
        )
    sheets = read_xlsx(out)
    assert codes(sheets[0]) == {world["santang"].code, world["sitang"].code}
    assert "户主" in sheets[0][0]  # Chinese headers by default
    assert "4" in stdout.getvalue() and str(out) in stdout.getvalue()
    with pytest.raises(CommandError):
        call_command(
            "export",
            "--user",
            county_user.username,
            "--filter",
            "status=nonsense",
            "--out",
            str(tmp_path / "x.csv"),
            stdout=io.StringIO(),
        )
    with pytest.raises(CommandError):
        call_command("export", "--user", "nobody", "--out", str(tmp_path / "x.csv"))


@pytest.mark.django_db
def test_the_list_page_offers_the_exports_to_those_who_may(client, county_user, make_user) -> None:
    html = login(client, county_user).get(reverse("registry:household_list")).content.decode()
    for value in ('name="rows" value="households"', 'name="rows" value="members"'):
        assert value in html
    assert 'name="format" value="xlsx"' in html and f'data-export-url="{EXPORT}"' in html
    viewer = make_user("viewer", "450102", "viewer")
    html = login(client, viewer).get(reverse("registry:household_list")).content.decode()
    assert 'name="format" value="xlsx"' not in html
