"""Bulk registry writes (issue 3 "Excel and CSV import"; DOMAIN.md §9): every row validated
first with the single-record rules, all or nothing, re-importing updates, one audit entry
per household."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation

from fupin.core import audit
from fupin.core.models import AuditEntry
from fupin.core.testing import person
from fupin.registry import quality, services
from fupin.registry.bulk import HouseholdRecord
from fupin.registry.models import Household, HouseholdIncome, Member, QualityIssue

VILLAGE = "450102100201"
OTHER_COUNTY_VILLAGE = "450103100201"
INCOME = {"year": 2016, "wage": "6000", "business": "0"}


def record(row, members=None, income=INCOME, village=VILLAGE, **household):
    members = members if members is not None else [person(), person("02", male=False)]
    return HouseholdRecord(
        row=row,
        household={"village": village, "head_name": "张三", "main_cause": "9", **household},
        members=[(row * 100 + k, m) for k, m in enumerate(members)],
        income=dict(income) if income else None,
    )


def where(result):
    return {(e.sheet, e.row, e.field) for e in result.errors}


def run(user, records, **kw):
    kw.setdefault("reason", "年度动态调整")
    return services.import_households(user, records, **kw)


@pytest.mark.django_db
def test_a_good_batch_is_written_whole(county_user, areas):
    records = [
        record(2),
        record(3, income={"year": 2016, "wage": 9000, "business": 500}),
        record(4),
    ]
    result = run(county_user, records, source="三塘村.xlsx sha256:abc")
    assert (result.created, result.updated, result.members_created) == (3, 0, 6)
    assert not result.errors
    households = list(Household.objects.order_by("code"))
    assert [h.code for h in households] == [f"{VILLAGE}000{i}" for i in (1, 2, 3)]
    h = households[1]
    assert (h.people, h.income_year, h.per_capita_income) == (2, 2016, Decimal("4750.00"))
    assert (h.status, h.status_date, h.version) == ("surveyed", timezone.localdate(), 1)
    head = h.members.get(relation="01")
    assert (head.sex, head.birth_date) == ("M", dt.date(1970, 5, 1))
    # DOMAIN.md §9: business income without cost is listed, as after a single save.
    assert list(QualityIssue.objects.filter(household=h).values_list("rule", flat=True)) == [
        "business_income_without_cost"
    ]
    entries = AuditEntry.objects.filter(action="registry.household.create")
    assert entries.count() == 3
    entry = entries.get(object_id=str(h.pk))
    assert "三塘村.xlsx sha256:abc" in entry.reason and entry.reason.startswith("年度动态调整")
    assert len(entry.after["members"]) == 2 and entry.after["income"]["wage"] == "9000.00"
    assert all(isinstance(step, int) for step in audit.verify())  # the chain holds


@pytest.mark.django_db
def test_one_bad_row_imports_nothing_and_reports_that_row(county_user, areas):
    """Issue 3: a file with one bad row imports nothing and reports that row."""
    bad = person("02", male=False)
    bad["id_number"] = bad["id_number"][:-1] + ("0" if bad["id_number"][-1] != "0" else "1")
    records = [record(2), record(3, members=[person(), bad]), record(4)]
    result = run(county_user, records)
    assert where(result) == {("members", 301, "id_number")}
    assert "校验位" in result.errors[0].message  # Chinese by default
    assert not Household.objects.exists()
    assert not Member.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="registry.").exists()


@pytest.mark.django_db
def test_every_error_of_every_row_is_collected(county_user, areas):
    records = [
        record(2, farmland_mu="-3", irrigated_mu="1"),
        record(3, members=[person(), person("02", male=False, migrant_months="3")]),
        record(4, income={"year": 1990, "wage": "x"}),
        record(5, is_dilapidated="是"),
    ]
    result = run(county_user, records)
    assert where(result) == {
        ("households", 2, "farmland_mu"),
        ("members", 301, "migrant_place"),
        ("income", 4, "year"),
        ("income", 4, "wage"),
        ("households", 5, "dilapidation_grade"),
    }
    assert not Household.objects.exists()


@pytest.mark.django_db
def test_reimport_updates_and_does_not_duplicate(county_user, areas):
    """Issue 3: re-importing the same file updates rather than duplicates."""
    head, spouse = person(name="王五"), person("02", name="李梅", male=False)
    first = [record(2, members=[head, spouse]), record(3)]
    run(county_user, first)
    h = Household.objects.get(members__id_number=head["id_number"])
    entries = AuditEntry.objects.count()

    again = run(county_user, first)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert Household.objects.count() == 2 and Member.objects.count() == 4
    assert AuditEntry.objects.count() == entries  # nothing changed, nothing recorded

    child = person("03", name="王小", born=dt.date(2008, 3, 1), schooling="小学")
    changed = [
        record(
            2,
            members=[head, {**spouse, "education": "初中"}, child],
            income={"year": 2016, "wage": 8000},
            phone="13800000000",
        ),
        record(3, members=[first[1].members[0][1]]),  # the spouse is not in the file
    ]
    result = run(county_user, changed)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    assert (result.members_created, result.members_updated) == (1, 1)
    assert [(w.sheet, w.row) for w in result.warnings] == [("households", 3)]
    h.refresh_from_db()
    assert (h.phone, h.version, h.people, h.per_capita_income) == (
        "13800000000",
        2,
        3,
        Decimal("2666.67"),
    )
    assert h.members.get(id_number=spouse["id_number"]).education == "junior"
    assert HouseholdIncome.objects.get(household=h).wage == 8000
    assert Household.objects.count() == 2 and Member.objects.count() == 5
    update = AuditEntry.objects.get(action="registry.household.update", object_id=str(h.pk))
    assert update.before["phone"] == "" and update.after["phone"] == "13800000000"
    assert update.after["version"] == 2
    assert {m["name"] for m in update.after["members"]} == {"李梅", "王小"}
    assert update.before["income"]["wage"] == "6000.00"
    assert all(isinstance(step, int) for step in audit.verify())


@pytest.mark.django_db
def test_matched_by_household_number_or_by_a_normalised_head_id(county_user, areas):
    head = person()
    run(county_user, [record(2, members=[head])])
    h = Household.objects.get()
    number = head["id_number"]
    old_form = number[:6] + number[8:17]  # 15 digits
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number[:-1]) + number[-1]
    for key in (old_form, full_width):
        result = run(county_user, [record(3, members=[], head_id_number=key, phone="1")])
        assert (result.created, result.unchanged + result.updated) == (0, 1), result.errors
    result = run(county_user, [record(4, members=[], code=h.code, head_name="张大")])
    assert result.updated == 1
    assert Household.objects.get().head_name == "张大"
    result = run(county_user, [record(5, members=[], code=f"{VILLAGE}9999")])
    assert where(result) == {("households", 5, "code")}


@pytest.mark.django_db
def test_an_out_of_area_village_is_a_row_error(make_user, areas):
    """DESIGN.md area scoping: a row outside the user's area is refused, not the user."""
    user = make_user("cun", VILLAGE, "data_officer")
    result = run(user, [record(2), record(3, village="450102100202"), record(4, village="1")])
    assert where(result) == {("households", 3, "village"), ("households", 4, "village")}
    messages = {e.row: e.message for e in result.errors}
    with translation.override("en"):
        assert messages[4] != messages[3]
    assert not Household.objects.exists()


@pytest.mark.django_db
def test_a_viewer_may_not_import(make_user, areas):
    with pytest.raises(PermissionDenied):
        run(make_user("viewer", "450102", "viewer"), [record(2)])


@pytest.mark.django_db
def test_duplicates_within_the_file_are_errors(county_user, areas):
    head = person()
    twice = person("02", male=False)
    result = run(
        county_user,
        [
            record(2, members=[head]),
            record(3, members=[head]),
            record(4, members=[person(), twice, twice]),
        ],
    )
    assert where(result) == {("households", 3, "head_id_number"), ("members", 402, "id_number")}


@pytest.mark.django_db
def test_dry_run_counts_and_writes_nothing(county_user, areas):
    calls = []
    result = run(
        county_user, [record(2), record(3)], dry_run=True, progress=lambda *a: calls.append(a)
    )
    assert (result.created, result.members_created) == (2, 4)
    assert not Household.objects.exists()
    assert calls[0] == ("validate", 0, 2) and calls[-1] == ("validate", 2, 2)


@pytest.mark.django_db
def test_progress_has_a_validate_and_a_write_phase(county_user, areas):
    calls = []
    run(county_user, [record(2), record(3)], progress=lambda *a: calls.append(a))
    assert {c[0] for c in calls} == {"validate", "write"}
    assert calls[-1] == ("write", 4, 4)


# -- the bulk path and the single-record service agree -----------------------------------------


class _Undo(Exception):
    pass


def _stored(fn):
    """What `fn` stores, then rolled back so the other path starts from the same state."""
    skip = {"id", "code", "household", "created_at", "updated_at"}
    result = {}
    try:
        with transaction.atomic():
            fn()
            h = Household.objects.get(head_name="比对户")
            result["household"] = {
                f.attname: getattr(h, f.attname)
                for f in Household._meta.concrete_fields
                if f.name not in skip
            }
            result["members"] = sorted(
                (
                    {
                        f.attname: getattr(m, f.attname)
                        for f in Member._meta.concrete_fields
                        if f.name not in skip
                    }
                    for m in h.members.all()
                ),
                key=lambda m: m["id_number"],
            )
            result["income"] = [
                {
                    f.attname: getattr(i, f.attname)
                    for f in HouseholdIncome._meta.concrete_fields
                    if f.name not in skip
                }
                for i in h.incomes.all()
            ]
            result["quality"] = sorted(
                (q.rule, q.detail, q.member.id_number if q.member else "")
                for q in QualityIssue.objects.filter(household=h)
            )
            raise _Undo
    except _Undo:
        return result


RAW_HOUSEHOLD = {
    "village": "４５０１０２１００２０１",
    "head_name": "比对户",
    "phone": " 138 0000 0000 ",
    "attribute": "低保贫困户",
    "main_cause": "因病",
    "other_causes": "缺技术、缺资金",
    "is_military_family": "√",
    "farmland_mu": "３.５",
    "irrigated_mu": 2,
    "forest_mu": "400",
    "is_dilapidated": "是",
    "dilapidation_grade": "C级",
    "housing_structure": "砖木",
    "cars": "1",
}


def _raw_members(duplicate):
    return [
        person(name="比甲", ethnicity="壮族", labour_skill="普通劳动力"),
        person(
            "02", name="比乙", male=False, ethnicity="8", is_disabled="是", disability_grade="三级"
        ),
        person("03", name="比丙", born=dt.date(2006, 1, 1), schooling="小学", migrant_months=0),
        duplicate,
    ]


RAW_INCOME = {"year": "2016", "wage": "5,000", "business": "1200.5", "transfer_dibao": 960}


@pytest.mark.django_db
def test_bulk_and_single_record_paths_store_the_same_data_and_findings(
    county_user, areas, make_household
):
    """Issue 3 "through the same validation": the same raw input gives the same stored
    household, members, income and data-quality findings (DOMAIN.md §9) on both paths."""
    elsewhere = make_household(village="450102101201")
    twin = {
        **person("04", name="比丁", male=False),
        "id_number": elsewhere.members.first().id_number,
    }
    members = _raw_members(twin)

    def single():
        services.create_household(
            county_user,
            dict(RAW_HOUSEHOLD),
            [dict(m) for m in members],
            dict(RAW_INCOME),
            surveyed_on=timezone.localdate(),
        )

    def bulk():
        result = run(
            county_user,
            [
                HouseholdRecord(
                    2,
                    dict(RAW_HOUSEHOLD),
                    [(i, dict(m)) for i, m in enumerate(members)],
                    dict(RAW_INCOME),
                )
            ],
        )
        assert not result.errors, result.errors

    one, many = _stored(single), _stored(bulk)
    assert one == many
    rules = {rule for rule, _d, _m in one["quality"]}
    assert {"dibao_without_dibao_member", "duplicate_person_county", "forest_too_large"} <= rules
    assert one["household"]["other_causes"] == ["7", "9"]
    assert one["household"]["phone"] == "13800000000"


@pytest.mark.django_db
def test_bulk_and_single_record_paths_give_the_same_messages(county_user, areas):
    household = {
        "village": OTHER_COUNTY_VILLAGE,
        "head_name": "",
        "main_cause": "因穷",
        "other_causes": "9",
        "farmland_mu": "-1",
        "is_dilapidated": "也许",
        "relocation_type": "整村",
        "cars": "1.5",
    }
    bad_id = person()
    bad_id["id_number"] = "45010219700501"
    members = [
        bad_id,
        person("02", male=False, is_disabled="否", disability_grade="2", migrant_months="13"),
        person("表亲", schooling="高中", dropout_reason="因病"),
    ]
    income = {"year": "1999", "wage": "1.234", "business_cost": "-5"}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            with pytest.raises(ValidationError) as exc:
                services.create_household(
                    county_user, dict(household), [dict(m) for m in members], dict(income)
                )
            single = exc.value.message_dict
            result = run(
                county_user,
                [
                    HouseholdRecord(
                        2,
                        dict(household),
                        [(10 + i, dict(m)) for i, m in enumerate(members)],
                        dict(income),
                    )
                ],
            )
        bulk: dict[str, list[str]] = {}
        for e in result.errors:
            key = {
                "households": e.field,
                "members": f"members.{e.row - 10}.{e.field}",
                "income": f"income.{e.field}",
            }[e.sheet]
            bulk.setdefault(key, []).append(e.message)
        assert bulk == single
    assert len(single) >= 10


@pytest.mark.django_db
def test_refresh_many_equals_refresh(make_household):
    """The bulk data-quality pass finds what the per-household one finds (DOMAIN.md §9)."""
    a = make_household(main_cause="1", income={"year": 2016, "wage": 100, "business": 50})
    b = make_household(attribute="dibao", farmland_mu=400)
    twin = make_household(members=[{**person(), "id_number": a.members.first().id_number}])
    singles = {h.pk: sorted(quality.evaluate(h), key=repr) for h in (a, b, twin)}
    found = quality.refresh_many(list(Household.objects.filter(pk__in=singles)))
    assert {pk: sorted(f, key=repr) for pk, f in found.items()} == singles
    assert QualityIssue.objects.filter(household=twin, rule="duplicate_person_county").exists()


@pytest.mark.django_db
def test_record_many_chains_like_record(county_user):
    audit.record(user=county_user, action="t.one", object_type="t", object_id="1", after={"a": 1})
    n = audit.record_many(
        county_user,
        (
            audit.Entry("t.many", "t", str(i), "45", before={"x": [i]}, after={"名": "张", "n": i})
            for i in range(2500)
        ),
        reason="批量",
        batch_size=1000,
    )
    audit.record(user=county_user, action="t.last", object_type="t", object_id="2")
    assert n == 2500
    steps = list(audit.verify())
    assert steps[-1] == 2502 and all(isinstance(s, int) for s in steps)
    entry = AuditEntry.objects.get(action="t.many", object_id="7")
    assert (entry.after, entry.reason, entry.username) == ({"名": "张", "n": 7}, "批量", "county")
