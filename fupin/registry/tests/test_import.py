"""Excel and CSV import (issue 3 item 2): the template, reading what village offices send,
all-or-nothing with a marked-up error report, re-import updating, GBK CSV."""

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from fupin.core.testing import person
from fupin.core.validators import build_resident_id
from fupin.registry import importing
from fupin.registry.models import Household, HouseholdIncome, Member

VILLAGE = "450102100201"


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)


def template_book():
    return openpyxl.load_workbook(io.BytesIO(importing.template_workbook()))


def fill(book, sheet, rows):
    """Write rows {column title: value} under the template's header (row 2)."""
    ws = book[sheet]
    titles = {c.value: c.column for c in ws[2] if c.value}
    start = ws.max_row + 1
    for r, row in enumerate(rows, start=start):
        for title, value in row.items():
            ws.cell(row=r, column=titles[title], value=value)
    return book


def save(book) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def household_rows(n=3):
    """n households of a head and a spouse each, as rows of the three sheets."""
    households, members, incomes = [], [], []
    for i in range(n):
        head, spouse = person(name=f"户主{i}"), person("02", name=f"配偶{i}", male=False)
        households.append(
            {
                "12 位村代码": VILLAGE,
                "户主": f"户主{i}",
                "户主身份证号码": head["id_number"],
                "主要致贫原因": "缺资金",
                "贫困户属性": "一般贫困户",
                "耕地面积（亩）": 2.5,
            }
        )
        members.append(
            {
                "姓名": f"户主{i}",
                "身份证号码": head["id_number"],
                "与户主关系": "户主",
                "民族": "壮族",
                "长期慢性病": "否",
            }
        )
        members.append(
            {
                "户主身份证号码": head["id_number"],
                "姓名": f"配偶{i}",
                "身份证号码": spouse["id_number"],
                "与户主关系": "配偶",
                "民族": "汉族",
            }
        )
        incomes.append(
            {
                "户主身份证号码": head["id_number"],
                "年度": 2016,
                "工资性收入": 8000,
                "生产经营性收入": 1000,
                "生产经营性支出": 400,
            }
        )
    return households, members, incomes


def workbook(n=3, change=None) -> bytes:
    households, members, incomes = household_rows(n)
    if change:
        change(households, members, incomes)
    book = template_book()
    fill(book, "户", households)
    fill(book, "成员", members)
    fill(book, "收入", incomes)
    return save(book)


# -- the template ----------------------------------------------------------------------------------


def test_the_template_has_the_three_sheets_lists_and_drop_downs():
    book = template_book()
    assert book.sheetnames == ["户", "成员", "收入", "选项"]
    assert book["选项"].sheet_state == "hidden"
    ws = book["户"]
    titles = [c.value for c in ws[2]]
    assert titles[:4] == ["户编号", "12 位村代码", "户主", "户主身份证号码"]
    assert titles.index("主要致贫原因") < titles.index("耕地面积（亩）")  # the form's order
    assert "户主身份证号码" in ws["A1"].value  # the note says what links the rows
    assert ws.freeze_panes == "A3"
    lists = {dv.formula1 for dv in ws.data_validations.dataValidation}
    assert '"是,否"' in lists and any("选项" in f for f in lists)
    main_cause = openpyxl.utils.get_column_letter(titles.index("主要致贫原因") + 1)
    assert any(main_cause + "3" in str(dv.sqref) for dv in ws.data_validations.dataValidation)
    members = [c.value for c in book["成员"][2]]
    assert members[:4] == ["户主身份证号码", "姓名", "身份证号码", "与户主关系"]
    lists_sheet = book["选项"]
    assert "因病" in [c.value for c in next(lists_sheet.iter_cols())] or any(
        "因病" in [c.value for c in col] for col in lists_sheet.iter_cols()
    )


# -- importing a workbook --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_good_file_imports_everything(county_user, areas):
    """Issue 3: a good file imports everything."""
    result = importing.run_import(county_user, "三塘村.xlsx", workbook(3))
    assert not result.errors, result.errors
    assert (result.created, result.members_created) == (3, 6)
    h = Household.objects.get(head_name="户主1")
    assert (h.people, h.per_capita_income, h.main_cause, h.farmland_mu) == (2, 4300, "9", 2.5)
    assert h.members.get(relation="01").ethnicity == "08"
    assert HouseholdIncome.objects.count() == 3


@pytest.mark.django_db
def test_one_bad_row_imports_nothing_and_the_report_marks_its_cell(county_user, areas):
    """Issue 3: a file with one bad row imports nothing and reports that row; the error
    report is the same workbook with the bad cell marked and a message per row."""

    def spoil(households, members, incomes):
        number = members[3]["身份证号码"]
        members[3]["身份证号码"] = number[:-1] + ("0" if number[-1] != "0" else "1")

    data = workbook(3, spoil)
    result = importing.run_import(county_user, "bad.xlsx", data)
    assert [(e.sheet, e.row, e.field) for e in result.errors] == [("members", 6, "id_number")]
    assert not Household.objects.exists() and not Member.objects.exists()

    report = openpyxl.load_workbook(io.BytesIO(importing.error_report(data, result.errors)))
    ws = report["成员"]
    titles = [c.value for c in ws[2]]
    cell = ws.cell(row=6, column=titles.index("身份证号码") + 1)
    assert cell.fill.fgColor.rgb.endswith("FFC7CE")
    assert result.errors[0].message in cell.comment.text
    assert ws.cell(row=6, column=ws.max_column).value == result.errors[0].message
    assert ws.cell(row=5, column=ws.max_column).value is None  # good rows stay unmarked
    assert report.sheetnames[0] != "户"  # a summary sheet first
    assert report.worksheets[0].cell(row=2, column=4).value == result.errors[0].message


@pytest.mark.django_db
def test_reimporting_the_same_file_updates(county_user, areas):
    """Issue 3: re-importing the same file updates rather than duplicates."""
    data = workbook(3)
    importing.run_import(county_user, "a.xlsx", data)
    again = importing.run_import(county_user, "a.xlsx", data)
    assert (again.created, again.unchanged) == (0, 3)

    book = openpyxl.load_workbook(io.BytesIO(data))
    ws = book["户"]
    ws.cell(row=4, column=[c.value for c in ws[2]].index("耕地面积（亩）") + 1, value=6)
    changed = importing.run_import(county_user, "a.xlsx", save(book))
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 2)
    assert Household.objects.count() == 3
    h = Household.objects.get(head_name="户主1")
    assert (h.farmland_mu, h.version) == (6, 2)


@pytest.mark.django_db
def test_merged_header_cells_stray_spaces_and_english_titles(county_user, areas):
    """Issue 3: merged header cells — a group-title row above the titles, and titles merged
    over two rows — are read as one header; spaces and full-width characters are noise."""
    head, spouse = person(name="黄一"), person("02", name="韦二", male=False)
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "贫困户信息"
    ws["A1"], ws["B1"], ws["C1"] = "户 主", "户主身份证号码", "基本情况"
    ws.merge_cells("A1:A2")
    ws.merge_cells("B1:B2")
    ws.merge_cells("C1:E1")
    ws["C2"], ws["D2"], ws["E2"] = "村代码", " 主要致贫原因 ", "耕地面积"
    ws.append(["黄一", head["id_number"], VILLAGE, "1", "３"])
    ms = book.create_sheet("家庭成员")
    ms["A1"] = "家庭成员情况"
    ms.merge_cells("A1:D1")
    ms.append(["户主身份证号码", "姓　名", "身份证号", "与户主关系"])
    ms.append([None, "黄一", head["id_number"], "户主"])
    ms.append([head["id_number"], "韦二", spouse["id_number"], "妻子"])
    inc = book.create_sheet("income")
    inc.append(["Head's resident ID", "Year", "Wage income"])
    inc.append([head["id_number"], 2016, 5000])
    result = importing.run_import(county_user, "merged.xlsx", save(book))
    assert not result.errors, result.errors
    h = Household.objects.get()
    assert (h.head_name, h.main_cause, h.farmland_mu, h.people) == ("黄一", "1", 3, 2)
    assert h.per_capita_income == 2500


@pytest.mark.django_db
def test_full_width_digits_15_digit_ids_and_chinese_labels(county_user, areas):
    """Issue 3: full-width digits in IDs, 15-digit old IDs, labels for codes."""
    head = build_resident_id("450102", dt.date(1962, 8, 9), 31)
    old_spouse = build_resident_id("450102", dt.date(1964, 2, 3), 42)
    fifteen = old_spouse[:6] + old_spouse[8:17]

    def change(households, members, incomes):
        households[0]["户主身份证号码"] = _full_width(head)
        households[0]["贫困户属性"] = "低保户"
        members[0].update({"身份证号码": " " + _full_width(head) + " ", "民族": "8"})
        members[1].update(
            {"户主身份证号码": head, "身份证号码": fifteen, "残疾": "是", "残疾等级": "二级"}
        )
        incomes[0]["户主身份证号码"] = head

    result = importing.run_import(county_user, "w.xlsx", workbook(1, change))
    assert not result.errors, result.errors
    h = Household.objects.get()
    assert h.attribute == "dibao"
    spouse = h.members.get(relation="02")
    assert (spouse.id_number, spouse.birth_date, spouse.sex) == (
        old_spouse,
        dt.date(1964, 2, 3),
        "F",
    )
    assert (spouse.is_disabled, spouse.disability_grade) == (True, 2)
    assert h.members.get(relation="01").id_number == head


@pytest.mark.django_db
def test_rows_that_link_to_no_household_are_reported(county_user, areas):
    def orphan(households, members, incomes):
        members.append(
            {
                "户主身份证号码": person()["id_number"],
                "姓名": "无户",
                "身份证号码": person()["id_number"],
                "与户主关系": "之子",
            }
        )

    result = importing.run_import(county_user, "o.xlsx", workbook(1, orphan))
    assert [(e.sheet, e.row, e.field) for e in result.errors] == [("members", 5, "head_id_number")]
    assert not Household.objects.exists()


@pytest.mark.django_db
def test_a_file_that_is_not_the_template_says_so(county_user, areas):
    book = openpyxl.Workbook()
    book.active.append(["甲", "乙"])
    result = importing.run_import(county_user, "x.xlsx", save(book))
    assert [(e.sheet, e.row) for e in result.errors] == [("households", 0)]
    result = importing.run_import(county_user, "x.xlsx", b"PK\x03\x04 not really a zip")
    assert len(result.errors) == 1


# -- CSV -------------------------------------------------------------------------------------------

CSV_HEADER = (
    "户主身份证号码,村代码,户主,主要致贫原因,姓名,身份证号码,与户主关系,民族,年度,工资性收入\n"
)


@pytest.mark.django_db
@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8"])
def test_a_flat_csv_in_gbk_or_utf8_works(county_user, areas, encoding):
    """Issue 3: GBK CSV works (and UTF-8 with or without BOM); one row per member, the
    household's columns on the head's row."""
    a, a2 = person(name="覃甲"), person("02", name="蒙乙", male=False)
    b = person(name="莫丙")
    text = CSV_HEADER + (
        f",{VILLAGE},覃甲,因病,覃甲,{a['id_number']},户主,壮族,2016,6000\n"
        f"{a['id_number']},,,,蒙乙,{a2['id_number']},配偶,壮族,,\n"
        f"{_full_width(b['id_number'])},{VILLAGE},莫丙,缺资金,莫丙,{b['id_number']},"
        "户主,汉族,2016, 3000 \n"
    )
    result = importing.run_import(county_user, "flat.csv", text.encode(encoding))
    assert not result.errors, result.errors
    assert result.created == 2
    h = Household.objects.get(head_name="覃甲")
    assert (h.people, h.per_capita_income, h.main_cause) == (2, 3000, "1")
    assert set(h.members.values_list("name", flat=True)) == {"覃甲", "蒙乙"}
    again = importing.run_import(county_user, "flat.csv", text.encode(encoding))
    assert (again.created, again.unchanged) == (0, 2)


@pytest.mark.django_db
def test_a_csv_without_the_key_column_groups_members_under_their_head(county_user, areas):
    a, a2, b = person(name="甲"), person("03", name="乙"), person(name="丙")
    text = "村代码,户主,姓名,身份证号码,与户主关系\n" + (
        f"{VILLAGE},甲,甲,{a['id_number']},户主\n"
        f",,乙,{a2['id_number']},之子\n"
        f"{VILLAGE},丙,丙,{b['id_number']},户主\n"
    )
    result = importing.run_import(county_user, "k.csv", text.encode("gb18030"))
    assert not result.errors, result.errors
    assert sorted(Household.objects.values_list("head_name", "people")) == [("丙", 1), ("甲", 2)]


@pytest.mark.django_db
def test_csv_errors_point_at_the_csv_row_and_the_report_marks_it(county_user, areas):
    a, a2 = person(name="甲"), person("02", name="乙", male=False)
    text = CSV_HEADER + (
        f",{VILLAGE},甲,因病,甲,{a['id_number']},户主,壮族,2016,6000\n"
        f"{a['id_number']},450102100299,,,乙,{a2['id_number']},配偶,火星族,,\n"
    )
    data = text.encode("gbk")
    result = importing.run_import(county_user, "e.csv", data)
    assert {(e.row, e.field) for e in result.errors} == {(3, "ethnicity"), (3, "village")}
    report = openpyxl.load_workbook(io.BytesIO(importing.error_report(data, result.errors)))
    ws = report["CSV"]
    assert ws.cell(row=3, column=8).fill.fgColor.rgb.endswith("FFC7CE")  # 民族
    assert ws.cell(row=3, column=5).value == "乙"


# -- the page and the command ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_import_page(client, county_user, areas, make_user):
    client.force_login(county_user)
    page = client.get(reverse("registry:household_import"))
    assert page.status_code == 200
    assert reverse("registry:import_template") in page.content.decode()
    template = client.get(reverse("registry:import_template"))
    assert template["Content-Type"].startswith("application/vnd.openxmlformats")
    assert (
        openpyxl.load_workbook(io.BytesIO(b"".join(template.streaming_content))).sheetnames[0]
        == "户"
    )

    good = io.BytesIO(workbook(2))
    good.name = "good.xlsx"
    response = client.post(reverse("registry:household_import"), {"file": good, "reason": "普查"})
    assert response.status_code == 200
    assert response.context["result"].created == 2
    assert Household.objects.count() == 2

    def spoil(households, members, incomes):
        households[0]["耕地面积（亩）"] = -1

    bad = io.BytesIO(workbook(1, spoil))
    bad.name = "bad.xlsx"
    response = client.post(reverse("registry:household_import"), {"file": bad})
    assert response.context["result"].errors and Household.objects.count() == 2
    token = response.context["token"]
    link = reverse("registry:import_error_report", args=[token])
    assert link in response.content.decode()
    report = client.get(link)
    assert report.status_code == 200
    assert "bad.errors.xlsx" in report["Content-Disposition"]
    other = make_user("other", "450102", "data_officer")
    client.force_login(other)
    assert client.get(link).status_code == 404  # only the uploader's own report
    client.force_login(make_user("viewer", "450102", "viewer"))
    assert client.get(reverse("registry:household_import")).status_code == 403


@pytest.mark.django_db
def test_the_import_command(tmp_path: Path, county_user, areas, capsys):
    good = tmp_path / "good.xlsx"
    good.write_bytes(workbook(2))
    call_command("import", str(good), "--user", "county", "--dry-run")
    assert not Household.objects.exists()
    call_command("import", str(good), "--user", "county")
    assert Household.objects.count() == 2

    def spoil(households, members, incomes):
        incomes[0]["年度"] = 1990

    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(workbook(1, spoil))
    with pytest.raises(CommandError):
        call_command("import", str(bad), "--user", "county")
    assert (tmp_path / "bad.errors.xlsx").exists()
    assert Household.objects.count() == 2


@pytest.mark.django_db
def test_a_large_workbooks_report_is_streamed_and_marks_the_same_cells(county_user, areas):
    def spoil(households, members, incomes):
        households[1]["耕地面积（亩）"] = "很多"
        members[2]["民族"] = "火星族"

    data = workbook(3, spoil)
    errors = importing.run_import(county_user, "big.xlsx", data).errors
    assert {(e.sheet, e.row) for e in errors} == {("households", 4), ("members", 5)}
    for stream_above in (10**9, 0):  # in place, then streamed
        report = openpyxl.load_workbook(
            io.BytesIO(importing.error_report(data, errors, stream_above=stream_above))
        )
        ws = report["户"]
        titles = [c.value for c in ws[2]]
        cell = ws.cell(row=4, column=titles.index("耕地面积（亩）") + 1)
        assert cell.value == "很多" and cell.fill.fgColor.rgb.endswith("FFC7CE")
        assert errors[0].message in cell.comment.text
        assert report["成员"].cell(row=5, column=2).value == members_name(data, 5)
        assert report["选项"].sheet_state == "hidden"
        assert report.worksheets[0].max_row == 3  # the summary: a title and two problems


def members_name(data: bytes, row: int) -> str:
    return openpyxl.load_workbook(io.BytesIO(data))["成员"].cell(row=row, column=2).value


@pytest.mark.django_db
def test_a_large_import_runs_as_a_job_with_its_error_report(
    client, county_user, areas, monkeypatch
):
    """Issue 3 item 4: imports run as background jobs; a rejected file keeps its report."""
    from fupin.core.models import JobRun, JobState
    from fupin.registry import views

    monkeypatch.setattr(views, "IMPORT_INLINE_BYTES", 0)  # every upload is "large"
    client.force_login(county_user)
    good = workbook(1)
    response = client.post(
        "/households/import/",
        {"file": SimpleUploadedFile("good.xlsx", good), "reason": "批量导入"},
    )
    job = JobRun.objects.latest("id")
    assert response.status_code == 302 and response.url == f"/jobs/{job.pk}/"
    assert job.kind == "registry.import" and job.state == JobState.SUCCEEDED
    assert job.counts["created"] == 1 and Household.objects.count() == 1
    assert Household.objects.get().head_name == "户主0"

    def spoil(households, members, incomes):
        members[0]["身份证号码"] = "123"

    bad = workbook(1, spoil)
    client.post("/households/import/", {"file": SimpleUploadedFile("bad.xlsx", bad)})
    failed = JobRun.objects.latest("id")
    assert failed.state == JobState.FAILED and failed.counts["errors"] >= 1
    assert failed.result_name == "bad.errors.xlsx"  # the report explains the failure
    assert Household.objects.count() == 1
