"""Cross-department verification (数据比对, issue 5 items 1 and 4; DOMAIN.md §3): department
datasets imported and versioned, a run over the registry as a job, and the review queue in
which a person confirms or dismisses every finding."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from fupin.core.models import AuditEntry, JobState
from fupin.core.testing import person
from fupin.identify import verification
from fupin.identify.models import (
    DUPLICATE,
    DepartmentDataset,
    Finding,
    FindingEffect,
    FindingStatus,
    VerificationRun,
)
from fupin.registry.enums import HouseholdStatus
from fupin.registry.models import Household, StatusChange

TODAY = dt.date(2017, 3, 1)


def login(client: Any, user: Any) -> Any:
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def vehicles_csv(rows: list[tuple[Any, ...]], header: str = "") -> bytes:
    header = header or "record_id,id_number,name,plate,vehicle_type,registered_on"
    lines = [header] + [",".join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def import_vehicles(user: Any, data: bytes, name: str = "车管所.csv", area: str = "450102") -> Any:
    return verification.import_dataset(
        user,
        kind="vehicles",
        area_code=area,
        label="公安车管 2016-12",
        received_on=dt.date(2017, 1, 5),
        data=data,
        filename=name,
        source_note="南宁市公安局交警支队函",
    )


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "departments"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# -- the kinds (policy) --------------------------------------------------------------------


def test_every_kind_of_the_issue_is_declared_with_its_effect() -> None:
    """DOMAIN.md §3 (Hunan): the 四类人员 — cars, commercial housing, businesses, public
    payroll (and village officials, Hebei's list §10) — exclude; 低保, 特困, disabled and
    seriously ill bring a household in (应纳尽纳); deaths and pupils update the member."""
    effects = {code: k.effect for code, k in verification.kinds().items()}
    assert effects == {
        "vehicles": "exclude",
        "commercial_housing": "exclude",
        "business_registrations": "exclude",
        "public_payroll": "exclude",
        "village_officials": "exclude",
        "deaths": "update",
        "dibao": "include",
        "tekun": "include",
        "disability_certificates": "include",
        "serious_illness": "include",
        "students": "update",
    }
    for kind in verification.kinds().values():
        assert kind.label_zh and kind.department_zh and kind.meaning_zh and kind.source
        assert kind.column_names[:3] == ("record_id", "id_number", "name")


def test_a_kind_with_an_unknown_effect_is_refused() -> None:
    text = """
[[kind]]
code = "boats"
label = "Boats"
label_zh = "船舶"
department = "Maritime"
department_zh = "海事"
meaning = "x"
meaning_zh = "x"
effect = "veto"
source = "test"
"""
    with pytest.raises(ValueError, match="effect must be"):
        verification.parse_kinds(text)


# -- importing datasets --------------------------------------------------------------------


def test_a_csv_is_stored_as_parquet_with_the_kinds_columns_typed(county_user: Any) -> None:
    """Issue 5 item 1: a department's records become a dataset version, kept as Parquet with
    the row count and hash; dates become dates."""
    data = vehicles_csv(
        [
            (1, "450102197005010011", "张三", "桂A12345", "小型轿车", "2015-03-02"),
            (2, "45010219800101002X", "李四", "桂A54321", "货车", "2016/07/09"),
        ]
    )
    dataset = import_vehicles(county_user, data)
    assert (dataset.kind, dataset.version, dataset.rows) == ("vehicles", 1, 2)
    table = pq.read_table(dataset.file.path)
    assert table.schema.field("record_id").type == pa.int64()
    assert table.schema.field("registered_on").type == pa.date32()
    assert table["registered_on"].to_pylist() == [dt.date(2015, 3, 2), dt.date(2016, 7, 9)]
    assert table["id_number"].to_pylist()[1] == "45010219800101002X"
    entry = AuditEntry.objects.get(action="identify.dataset.import")
    assert entry.after["sha256"] == dataset.sha256 and entry.after["rows"] == 2


def test_a_new_upload_of_the_same_kind_and_area_is_the_next_version(county_user: Any) -> None:
    """Issue 5 item 1 (versioned datasets): the old version stays, so a run says which it
    compared with."""
    first = import_vehicles(
        county_user, vehicles_csv([(1, "450102197005010011", "张三", "A", "B", "")])
    )
    second = import_vehicles(
        county_user,
        vehicles_csv(
            [(1, "450102197005010011", "张三", "A", "B", ""), (2, "x", "王五", "", "", "")]
        ),
    )
    assert (first.version, second.version) == (1, 2)
    assert DepartmentDataset.objects.filter(kind="vehicles", area_id="450102").count() == 2
    assert Path(first.file.path).exists() and Path(second.file.path).exists()


def test_a_file_without_a_kinds_column_stores_nothing(county_user: Any) -> None:
    data = vehicles_csv(
        [(1, "450102197005010011", "张三", "桂A12345", "2015-03-02")],
        header="record_id,id_number,name,plate,registered_on",
    )
    with pytest.raises(ValidationError) as exc:
        import_vehicles(county_user, data)
    assert "vehicle_type" in str(exc.value.message_dict["file"])
    assert not DepartmentDataset.objects.exists() and not stored_files()


def test_one_bad_row_stores_nothing_and_every_problem_has_its_row(county_user: Any) -> None:
    """All or nothing: a record without an ID, a record_id that is no number or repeats, a
    date that is no date — each named with its line in the file."""
    data = vehicles_csv(
        [
            (1, "450102197005010011", "张三", "桂A1", "轿车", "2015-03-02"),
            ("abc", "450102197005010029", "李四", "桂A2", "轿车", "2015-03-02"),
            (3, "", "王五", "桂A3", "轿车", "2015-03-02"),
            (1, "450102197005010037", "赵六", "桂A4", "轿车", "yesterday"),
        ]
    )
    with pytest.raises(ValidationError) as exc:
        import_vehicles(county_user, data)
    messages = exc.value.message_dict["file"]
    assert any(m.startswith("Row 3:") and "record_id" in m for m in messages)
    assert any(m.startswith("Row 4:") and "resident ID" in m for m in messages)
    assert any(m.startswith("Row 5:") and "yesterday" in m for m in messages)
    assert any(m.startswith("Row 2:") and "more than once" in m for m in messages)
    assert not DepartmentDataset.objects.exists() and not stored_files()


def test_parquet_and_xlsx_uploads_are_read_too(county_user: Any) -> None:
    import openpyxl

    table = pa.table(
        {
            "record_id": pa.array([7], pa.int32()),
            "id_number": ["450102197005010011"],
            "name": ["张三"],
            "died_on": [dt.date(2016, 11, 2)],
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    deaths = verification.import_dataset(
        county_user, kind="deaths", area_code="450102", label="殡葬 2016",
        received_on=dt.date(2017, 1, 5), data=out.getvalue(), filename="deaths.parquet",
    )  # fmt: skip
    assert deaths.rows == 1
    assert pq.read_table(deaths.file.path)["record_id"].type == pa.int64()

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["record_id", "id_number", "name", "grade", "disability_kind"])
    sheet.append([1, "450102197005010011", "张三", 2, "肢体"])
    out = io.BytesIO()
    book.save(out)
    certs = verification.import_dataset(
        county_user, kind="disability_certificates", area_code="450102", label="残联 2016",
        received_on=dt.date(2017, 1, 5), data=out.getvalue(), filename="残疾人证.xlsx",
    )  # fmt: skip
    assert pq.read_table(certs.file.path)["grade"].to_pylist() == [2]


def test_only_a_manager_of_the_area_imports(make_user: Callable[..., Any]) -> None:
    from django.core.exceptions import PermissionDenied

    officer = make_user("officer", "450102", "data_officer")
    other = make_user("other", "450103", "administrator")
    data = vehicles_csv([(1, "450102197005010011", "张三", "A", "B", "")])
    with pytest.raises(PermissionDenied):
        import_vehicles(officer, data)
    with pytest.raises(PermissionDenied):
        import_vehicles(other, data)


# -- findings and decisions ----------------------------------------------------------------


@pytest.fixture(autouse=True)
def _english() -> Any:
    """The services' messages are checked in English here (the pages in the user's language)."""
    with translation.override("en"):
        yield


@pytest.fixture
def registry(make_household: Callable[..., Any]) -> dict[str, Any]:
    """Four households in 兴宁区: one whose head owns a car, one on 低保 with a student, one
    whose member died, and one in 四塘村 whose head is also registered elsewhere."""
    car = make_household(head_name="车主", members=[person(name="车主", born=dt.date(1975, 2, 1))])
    dibao = make_household(
        head_name="低保户",
        members=[
            person(name="低保户", born=dt.date(1960, 3, 1)),
            person("03", name="学生", born=dt.date(2003, 9, 1)),
        ],
    )
    died = make_household(head_name="户主", members=[person(name="户主", born=dt.date(1950, 1, 1))])
    other_village = make_household(
        village="450102100202",
        head_name="四塘户",
        members=[person(name="四塘户", born=dt.date(1968, 6, 1))],
    )
    return {"car": car, "dibao": dibao, "died": died, "other_village": other_village}


def head(household: Household) -> Any:
    return household.members.order_by("pk").first()


def member(household: Household, name: str) -> Any:
    return household.members.get(name=name)


def department_files(county_user: Any, registry: dict[str, Any]) -> list[Any]:
    car, dibao, died = registry["car"], registry["dibao"], registry["died"]
    owner = head(car)
    vehicles = import_vehicles(
        county_user,
        vehicles_csv(
            [
                (11, owner.id_number, owner.name, "桂A12345", "小型轿车", "2015-03-02"),
                # A car of someone not on the registry: no finding.
                (12, "450102199001010018", "路人", "桂A00001", "小型轿车", "2015-03-02"),
            ]
        ),
    )

    def upload(kind: str, header: str, rows: list[str]) -> Any:
        return verification.import_dataset(
            county_user, kind=kind, area_code="45", label=f"{kind} 2016",
            received_on=dt.date(2017, 1, 5), data=("\n".join([header, *rows]) + "\n").encode(),
            filename=f"{kind}.csv",
        )  # fmt: skip

    poor = head(dibao)
    pupil = member(dibao, "学生")
    dead = head(died)
    return [
        vehicles,
        upload("dibao", "record_id,id_number,name,county_code,since,monthly_amount",
               [f"21,{poor.id_number},{poor.name},450102,2015-01-01,320.50"]),
        upload("students", "record_id,id_number,name,school,stage,grade",
               [f"31,{pupil.id_number},{pupil.name},三塘中学,junior,2"]),
        upload("deaths", "record_id,id_number,name,died_on",
               [f"41,{dead.id_number},{dead.name},2016-12-20"]),
    ]  # fmt: skip


def test_a_run_finds_the_expected_findings(
    county_user: Any, make_user: Callable[..., Any], registry: dict[str, Any]
) -> None:
    """Issue 5 item 4: a run over an area is a job; each matched record becomes an open
    finding with its kind's effect and the record's fields as evidence; the car of someone
    not on the registry gives none, and nothing is decided by the run."""
    pytest.importorskip("engine.match")
    datasets = department_files(make_user("province", "45", "administrator"), registry)
    run = verification.start_run(county_user, "450102", datasets)
    run.job.refresh_from_db()
    assert run.job.state == JobState.SUCCEEDED, run.job.error
    run.refresh_from_db()
    assert run.finished_at is not None and run.people == 5
    found = {
        (f.kind, f.member.name, f.record_id, f.effect, f.status)
        for f in Finding.objects.filter(run=run).select_related("member")
    }
    assert found == {
        ("vehicles", "车主", 11, FindingEffect.EXCLUDE, FindingStatus.OPEN),
        ("dibao", "低保户", 21, FindingEffect.INCLUDE, FindingStatus.OPEN),
        ("students", "学生", 31, FindingEffect.UPDATE, FindingStatus.OPEN),
        ("deaths", "户主", 41, FindingEffect.UPDATE, FindingStatus.OPEN),
    }
    car = Finding.objects.get(run=run, kind="vehicles")
    assert car.method == "exact" and car.score == 1.0
    assert car.record["plate"] == "桂A12345" and car.record["registered_on"] == "2015-03-02"
    assert car.household_id == registry["car"].pk and car.dataset_id == datasets[0].pk
    # Found, not decided: every household keeps its status.
    assert set(Household.objects.values_list("status", flat=True)) == {HouseholdStatus.SURVEYED}


def test_a_run_refuses_two_versions_of_one_kind(county_user: Any) -> None:
    data = vehicles_csv([(1, "450102197005010011", "张三", "A", "B", "")])
    one, two = import_vehicles(county_user, data), import_vehicles(county_user, data)
    with pytest.raises(ValidationError) as exc:
        verification.start_run(county_user, "450102", [one, two])
    assert "one version" in str(exc.value)
    assert not VerificationRun.objects.exists()


@pytest.fixture
def findings(county_user: Any, registry: dict[str, Any]) -> dict[str, Finding]:
    """Findings stored as a run would store them (no engine needed to decide them)."""
    data = vehicles_csv([(11, head(registry["car"]).id_number, "车主", "桂A12345", "轿车", "")])
    vehicles = import_vehicles(county_user, data)
    run = VerificationRun.objects.create(area_id="450102", started_by=county_user)
    run.datasets.set([vehicles])
    rows = {
        "car": verification.Found(
            "vehicles", head(registry["car"]).pk, registry["car"].pk, "exact", 1.0, 11,
            {"record_id": 11, "id_number": head(registry["car"]).id_number, "name": "车主",
             "plate": "桂A12345"},
        ),
        "dibao": verification.Found(
            "dibao", head(registry["dibao"]).pk, registry["dibao"].pk, "exact", 1.0, 21,
            {"record_id": 21, "name": "低保户"},
        ),
        "deaths": verification.Found(
            "deaths", head(registry["died"]).pk, registry["died"].pk, "id_corrected", 0.95, 41,
            {"record_id": 41, "died_on": "2016-12-20"},
        ),
        "other_village": verification.Found(
            "vehicles", head(registry["other_village"]).pk, registry["other_village"].pk,
            "fuzzy", 0.9, 12, {"record_id": 12},
        ),
        "duplicate": verification.Found(
            DUPLICATE, head(registry["car"]).pk, registry["car"].pk, "near_id", 0.9,
            other_person_id=head(registry["other_village"]).pk,
            record={"scope": "county"},
        ),
    }  # fmt: skip
    verification.store_findings(county_user, run, rows.values(), people=6, matches=4, duplicates=1)
    stored = list(Finding.objects.filter(run=run).order_by("pk"))
    return dict(zip(rows, stored, strict=True))


def test_a_decision_needs_a_reason(county_user: Any, findings: dict[str, Finding]) -> None:
    """Issue 5 item 4: nothing is excluded without a person's decision, and a decision is
    reasoned."""
    car = findings["car"]
    with pytest.raises(ValidationError) as exc:
        verification.decide_finding(county_user, car, confirm=True, reason="  ")
    assert "reason" in exc.value.message_dict
    car.refresh_from_db()
    assert car.status == FindingStatus.OPEN
    assert car.household.status == HouseholdStatus.SURVEYED


def test_confirming_an_exclusion_excludes_with_the_record_as_evidence(
    county_user: Any, findings: dict[str, Finding]
) -> None:
    """DOMAIN.md §3: every exclusion keeps the matched record as evidence and can be
    reviewed — the household's history shows the step `exclude` with the record attached,
    and the audit trail the decision."""
    car = findings["car"]
    verification.decide_finding(
        county_user, car, confirm=True, reason="车管所记录核实属实", date=TODAY
    )
    household = Household.objects.get(pk=car.household_id)
    assert household.status == HouseholdStatus.EXCLUDED
    change = StatusChange.objects.get(household=household, transition="exclude")
    assert "车管所记录核实属实" in change.reason
    (evidence,) = change.attachments.all()
    content = json.loads(evidence.file.read().decode("utf-8"))
    assert content["record"]["plate"] == "桂A12345" and content["finding"] == car.pk
    car.refresh_from_db()
    assert car.status == FindingStatus.CONFIRMED and car.status_change == change
    assert car.decided_by == county_user and car.reason == "车管所记录核实属实"
    entry = AuditEntry.objects.get(action="identify.finding.confirm")
    assert entry.after["status_change"] == change.pk
    assert AuditEntry.objects.filter(action="registry.household.exclude").exists()


def test_a_finding_is_decided_once(county_user: Any, findings: dict[str, Finding]) -> None:
    car = findings["car"]
    verification.decide_finding(county_user, car, confirm=True, reason="属实", date=TODAY)
    with pytest.raises(ValidationError) as exc:
        verification.decide_finding(county_user, car, confirm=True, reason="再次", date=TODAY)
    assert "already decided" in str(exc.value)
    assert StatusChange.objects.filter(transition="exclude").count() == 1


def test_a_household_that_cannot_be_excluded_is_refused_with_a_message(
    county_user: Any, findings: dict[str, Finding]
) -> None:
    """lifecycle.toml: `exclude` is taken from surveyed … exit_proposed, not from an
    exited household; the finding stays open."""
    car = findings["car"]
    Household.objects.filter(pk=car.household_id).update(status=HouseholdStatus.EXITED)
    with pytest.raises(ValidationError) as exc:
        verification.decide_finding(county_user, car, confirm=True, reason="属实", date=TODAY)
    assert "cannot be excluded" in str(exc.value)
    car.refresh_from_db()
    assert car.status == FindingStatus.OPEN
    assert not StatusChange.objects.filter(transition="exclude").exists()


def test_dismissing_keeps_the_household(county_user: Any, findings: dict[str, Finding]) -> None:
    car = findings["car"]
    verification.decide_finding(county_user, car, confirm=False, reason="车辆已于2014年过户他人")
    car.refresh_from_db()
    assert car.status == FindingStatus.DISMISSED and car.reason == "车辆已于2014年过户他人"
    assert car.household.status == HouseholdStatus.SURVEYED
    assert not StatusChange.objects.filter(transition="exclude").exists()
    assert AuditEntry.objects.filter(action="identify.finding.dismiss").exists()


def test_a_confirmed_inclusion_goes_on_the_include_list(
    county_user: Any, findings: dict[str, Finding]
) -> None:
    """DOMAIN.md §3 (Hunan 应纳尽纳): a 低保 household confirmed by a reviewer is a candidate
    for the next identification campaign; an open or dismissed one is not."""
    assert not verification.include_candidates(county_user, "450102").exists()
    verification.decide_finding(county_user, findings["dibao"], confirm=True, reason="低保在册")
    assert list(verification.include_candidates(county_user, "450102")) == [
        findings["dibao"].household
    ]
    assert findings["dibao"].household.status == HouseholdStatus.SURVEYED


def test_confirming_an_update_only_records_the_decision(
    county_user: Any, findings: dict[str, Finding]
) -> None:
    deaths = findings["deaths"]
    verification.decide_finding(county_user, deaths, confirm=True, reason="殡葬记录属实")
    deaths.refresh_from_db()
    assert deaths.status == FindingStatus.CONFIRMED and deaths.status_change is None
    assert deaths.member.left_on is None  # the data officer records the death


def test_only_a_reviewer_decides(
    make_user: Callable[..., Any], findings: dict[str, Finding]
) -> None:
    from django.core.exceptions import PermissionDenied

    officer = make_user("officer", "450102", "data_officer")
    with pytest.raises(PermissionDenied):
        verification.decide_finding(officer, findings["car"], confirm=False, reason="x")


# -- pages ---------------------------------------------------------------------------------


def test_the_queue_shows_a_village_user_his_village_only(
    client: Any, make_user: Callable[..., Any], findings: dict[str, Finding]
) -> None:
    """Area scoping (DESIGN.md): findings are people's data, scoped by their household's
    village."""
    village = make_user("village", "450102100202", "reviewer")
    page = login(client, village).get(reverse("identify:finding_list"))
    assert page.status_code == 200
    ids = {f.pk for f in page.context["table"].data}
    assert ids == {findings["other_village"].pk}
    outside = client.get(reverse("identify:finding_detail", args=[findings["car"].pk]))
    assert outside.status_code == 404


def test_the_household_page_lists_its_findings(
    client: Any, county_user: Any, make_user: Callable[..., Any], findings: dict[str, Finding]
) -> None:
    """Issue 5 item 4: the household page shows what other departments' records say about
    it — the vehicle and the near duplicate of 车主's household, not other households'; a
    household outside the user's area is 404."""
    login(client, county_user)
    car = findings["car"].household
    detail = client.get(reverse("registry:household_detail", args=[car.pk])).content.decode()
    assert reverse("identify:household_findings", args=[car.pk]) in detail
    panel = client.get(reverse("identify:household_findings", args=[car.pk]))
    assert panel.status_code == 200
    assert {f.pk for f in panel.context["findings"]} == {
        findings["car"].pk,
        findings["duplicate"].pk,
    }
    html = panel.content.decode()
    assert f"#{findings['car'].pk}" in html and "Vehicle" in html
    other = findings["other_village"].household
    village = make_user("village", "450102100201", "reviewer")
    login(client, village)
    assert client.get(reverse("identify:household_findings", args=[other.pk])).status_code == 404


def test_a_finding_outside_the_users_area_is_404(
    client: Any, make_user: Callable[..., Any], findings: dict[str, Finding]
) -> None:
    elsewhere = make_user("qingxiu", "450103", "administrator")
    login(client, elsewhere)
    assert (
        client.get(reverse("identify:finding_detail", args=[findings["car"].pk])).status_code == 404
    )
    post = client.post(
        reverse("identify:finding_detail", args=[findings["car"].pk]),
        {"decision": "confirm", "reason": "属实"},
    )
    assert post.status_code == 404
    assert findings["car"].household.status == HouseholdStatus.SURVEYED


def test_the_finding_page_shows_both_sides_with_masked_ids(
    client: Any, make_user: Callable[..., Any], findings: dict[str, Finding]
) -> None:
    """DESIGN.md privacy: a reviewer without `view_full_id` sees resident IDs masked, on the
    registry's side and the department's."""
    reviewer = make_user("reviewer", "450102", "reviewer")
    car = findings["car"]
    full = head(car.household).id_number
    page = login(client, reviewer).get(reverse("identify:finding_detail", args=[car.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert full not in html and full[:6] + "**********" + full[-2:] in html
    assert "桂A12345" in html and "exact" in html and car.household.code in html
    assert 'name="reason"' in html


def test_deciding_on_the_page_without_a_reason_changes_nothing(
    client: Any, make_user: Callable[..., Any], findings: dict[str, Finding]
) -> None:
    reviewer = make_user("reviewer", "450102", "reviewer")
    car = findings["car"]
    url = reverse("identify:finding_detail", args=[car.pk])
    page = login(client, reviewer).post(url, {"decision": "confirm", "reason": ""})
    assert page.status_code == 400
    assert "Write the reason" in page.content.decode()
    car.refresh_from_db()
    assert car.status == FindingStatus.OPEN and car.household.status == HouseholdStatus.SURVEYED
    done = client.post(url, {"decision": "confirm", "reason": "属实", "date": "2017-03-01"})
    assert done.status_code == 302
    car.refresh_from_db()
    assert car.household.status == HouseholdStatus.EXCLUDED


def test_the_other_pages_render(
    client: Any, county_user: Any, findings: dict[str, Finding]
) -> None:
    verification.decide_finding(county_user, findings["dibao"], confirm=True, reason="低保在册")
    login(client, county_user)
    include = client.get(reverse("identify:include_list"))
    assert (
        include.status_code == 200 and findings["dibao"].household.code in include.content.decode()
    )
    dataset = findings["car"].dataset
    assert dataset is not None
    for url in (
        reverse("identify:dataset_list"),
        reverse("identify:dataset_versions", args=[dataset.pk]),
        reverse("identify:run_list"),
        reverse("identify:run_detail", args=[findings["car"].run_id]),
        reverse("identify:finding_detail", args=[findings["duplicate"].pk]),
    ):
        assert client.get(url).status_code == 200, url


def test_uploading_on_the_page(client: Any, county_user: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    login(client, county_user)
    bad = SimpleUploadedFile("v.csv", vehicles_csv([("x", "1", "张三", "A", "B", "")]))
    page = client.post(
        reverse("identify:dataset_list"),
        {"kind": "vehicles", "area": "450102", "label": "车管", "received_on": "2017-01-05",
         "file": bad},
    )  # fmt: skip
    assert page.status_code == 400 and "Row 2:" in page.content.decode()
    good = SimpleUploadedFile("v.csv", vehicles_csv([(1, "1", "张三", "A", "B", "")]))
    page = client.post(
        reverse("identify:dataset_list"),
        {"kind": "vehicles", "area": "450102", "label": "车管", "received_on": "2017-01-05",
         "file": good},
    )  # fmt: skip
    assert page.status_code == 302
    assert DepartmentDataset.objects.get().rows == 1


def test_starting_a_run_on_the_page_needs_datasets(client: Any, county_user: Any) -> None:
    page = login(client, county_user).post(reverse("identify:run_list"), {"area": "450102"})
    assert page.status_code == 400
    assert "Choose the department datasets" in page.content.decode()
    assert not VerificationRun.objects.exists()


def test_running_again_does_not_double_the_open_findings(
    county_user: Any, findings: dict[str, Finding]
) -> None:
    """A second run finding the same records adds nothing while the first findings are open;
    once one is dismissed, the same record found again is a new finding to decide."""
    car, dibao = findings["car"], findings["dibao"]
    verification.decide_finding(county_user, dibao, confirm=False, reason="已退出低保")
    again = VerificationRun.objects.create(area_id="450102", started_by=county_user)
    rows = [
        verification.Found(
            "vehicles", car.member_id, car.household_id, "exact", 1.0, 99, dict(car.record)
        ),
        verification.Found(
            "dibao", dibao.member_id, dibao.household_id, "exact", 1.0, 21, dict(dibao.record)
        ),
        verification.Found(
            DUPLICATE, car.member_id, car.household_id, "near_id", 0.9,
            other_person_id=findings["duplicate"].other_member_id,
        ),
    ]  # fmt: skip
    stored = verification.store_findings(
        county_user, again, rows, people=6, matches=2, duplicates=1
    )
    assert stored == 1
    assert list(Finding.objects.filter(run=again).values_list("kind", flat=True)) == ["dibao"]
