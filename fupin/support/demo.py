"""The support half of `fupin demo` (DOMAIN.md §4): cadres, pairings, a resident team,
plans, visits and ledgers for the demo village and its township, loaded through
`fupin.support.services` like real data (rules, audit trail and all).

Called by `fupin.registry.demo.load_demo` inside its transaction, after the households.
Deterministic for a county (its own seeded generator) and on the demo's clock: pairings
start on the household's registration, measures, visits and ledger lines fall in
2017–2019, nothing depends on today's date.

What is left out on purpose, so the rectification lists (整改清单) have rows to show: the
households outside the demo township have no cadre, a few paired households have no plan,
and one plan is copied to another household (同质化; plans drawn from the same suggestions
sometimes come out identical too, as they did on the ground).
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Min, Q

from fupin.core import audit
from fupin.core.models import Area, AuditEntry, User
from fupin.registry import demo_names
from fupin.registry.demo import (
    DEMO_AS_OF,
    DEMO_MARK,
    SURVEY_DATE,
    IdFactory,
    IssuingCodes,
    _chance,
    _given_name,
    _surname,
    demo_username,
)
from fupin.registry.models import Attachment, Household, Member, StatusChange
from fupin.support import policy, services
from fupin.support.models import (
    Cadre,
    CadreLevel,
    CheckIn,
    LedgerEntry,
    MeasureStatus,
    Need,
    Pairing,
    Plan,
    ResidentTeam,
    TeamMember,
    TeamRole,
    Visit,
)

#: 隆安县's county seat (城厢镇), about where the demo's villages lie; each village is placed
#: within ±0.15° of it by its code, so its place is the same in every load.
COUNTY_CENTRE = (Decimal("23.17"), Decimal("107.69"))
VILLAGE_SPREAD = 0.15
#: A village is a few square kilometres: the county's fence around its centre.
GEOFENCE_RADIUS_M = 2500
#: The 2018 rotation of first secretaries and resident teams (驻村工作队轮换).
TEAM_TERM = (dt.date(2018, 3, 1), dt.date(2021, 2, 28))
#: The demo's own seed: the support data stay the same whatever the households' seed.
SEED = 2018

COUNTY_ORGANS = (
    ("中共{county}委组织部", "干部"),
    ("{county}人民政府办公室", "副主任科员"),
    ("{county}财政局", "股长"),
    ("{county}教育局", "科员"),
    ("{county}卫生和计划生育局", "副局长"),
    ("{county}农业局", "农艺师"),
    ("{county}水利局", "科员"),
    ("{county}住房和城乡建设局", "股长"),
    ("{county}人力资源和社会保障局", "科员"),
    ("{county}民政局", "副主任科员"),
    ("{county}扶贫开发办公室", "主任科员"),
    ("{county}交通运输局", "科员"),
    ("{county}林业局", "股长"),
    ("{county}国土资源局", "科员"),
    ("{county}人民医院", "医师"),
)
TOWNSHIP_ORGANS = (
    ("{township}人民政府", "副镇长"),
    ("{township}人民政府", "干部"),
    ("中共{township}委员会", "组织委员"),
    ("{township}农业服务中心", "主任"),
    ("{township}社会保障服务中心", "干部"),
)

#: Per measure category: (goal, amount range in yuan, who pays, result when done).
MEASURE_TEMPLATES: dict[str, tuple[str, tuple[int, int], str, str]] = {
    "industry": (
        "户年增收3000元以上",
        (2000, 8000),
        "财政专项扶贫资金（产业奖补）",
        "已见效，户年增收约3500元",
    ),
    "employment": (
        "1名劳动力稳定就业，年务工收入1.5万元以上",
        (0, 1500),
        "人社部门就业补助资金",
        "已就业，月收入约2800元",
    ),
    "microcredit": (
        "获得5万元扶贫小额信贷发展生产",
        (50000, 50000),
        "农村信用社贷款（财政贴息）",
        "贷款已发放，按期付息",
    ),
    "education": ("子女完成学业，不因贫失学辍学", (1000, 5000), "教育资助资金", "资助已发放到户"),
    "health": ("看得起病，住院费用报销比例达90%", (300, 3000), "医疗救助资金", "已参保，报销到位"),
    "relocation": (
        "搬迁入住集中安置点，有稳定生计",
        (20000, 60000),
        "易地扶贫搬迁资金",
        "已搬迁入住",
    ),
    "housing": (
        "完成改造，住房安全有保障",
        (15000, 30000),
        "农村危房改造补助资金",
        "已竣工验收入住",
    ),
    "ecological": (
        "聘为护林员或领取补偿，年增收8000元",
        (8000, 8000),
        "生态补偿资金",
        "已聘用，补助按月发放",
    ),
    "safety_net": (
        "符合条件的家庭成员纳入兜底保障",
        (2000, 5000),
        "民政救助资金",
        "已纳入，按月发放",
    ),
    "infrastructure": (
        "解决出行、饮水等基本生产生活条件",
        (2000, 10000),
        "财政专项扶贫资金（基础设施）",
        "已建成投入使用",
    ),
}

VISIT_WORK = (
    "宣讲扶贫政策，核实家庭人口和收入情况",
    "了解子女上学情况，落实教育资助",
    "帮助联系务工岗位，登记务工意愿",
    "查看种养项目进展，指导防疫和管护",
    "核对一户一册收支台账，更新明白卡",
    "了解家人病情，协助办理慢性病门诊卡",
    "查看危房改造进度，协调施工队",
    "帮助办理小额信贷申请材料",
)
VISIT_NEEDS = (
    "",
    "",
    "希望参加养殖技术培训",
    "房屋漏雨，需要维修",
    "想在附近找工作，方便照顾老人",
    "希望帮助销售沃柑",
    "",
)
LEDGER_LINES = (
    ("income", "wage", (800, 4000), "外出务工工资"),
    ("income", "crops", (500, 3000), "出售甘蔗、香蕉"),
    ("income", "livestock", (600, 2500), "出售生猪"),
    ("income", "transfer", (100, 600), "低保金、生态补偿等"),
    ("income", "dividend", (200, 800), "光伏、合作社分红"),
    ("expense", "production", (200, 1500), "种苗、化肥、饲料"),
    ("expense", "food", (300, 900), "日常生活开支"),
    ("expense", "medical", (100, 1200), "看病买药"),
    ("expense", "schooling", (100, 800), "学杂费、生活费"),
)


def village_centre(code: str) -> tuple[Decimal, Decimal]:
    """A village's demo centre (latitude, longitude): near the county seat, the same for a
    code on every load and every machine (CRC-32 of the code, not Python's hash)."""
    rng = np.random.default_rng(zlib.crc32(code.encode()))
    lat, lon = (
        float(c) + float(rng.uniform(-VILLAGE_SPREAD, VILLAGE_SPREAD)) for c in COUNTY_CENTRE
    )
    return Decimal(f"{lat:.6f}"), Decimal(f"{lon:.6f}")


def _day(rng: np.random.Generator, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=int(rng.integers(0, max((end - start).days, 0) + 1)))


def _amount(rng: np.random.Generator, low: int, high: int) -> Decimal:
    return Decimal(int(rng.integers(low // 100, high // 100 + 1)) * 100)


class _CadreMaker:
    """Cadres with realistic names, employers and valid resident IDs (GB 11643), none of
    them a member of a household (a registered poor person may not be a cadre)."""

    def __init__(self, county: str, rng: np.random.Generator, admin: User) -> None:
        self.rng = rng
        self.admin = admin
        self.ids = IdFactory(IssuingCodes.for_county(county), rng)
        self.made: list[Cadre] = []

    def make(
        self, *, name: str = "", sex: str = "", employer: str, post: str, level: str, area: str
    ) -> Cadre:
        rng = self.rng
        sex = sex or ("M" if _chance(rng, 0.65) else "F")
        birth = dt.date(int(rng.integers(1966, 1994)), 1, 1) + dt.timedelta(
            days=int(rng.integers(0, 365))
        )
        while True:
            number = self.ids.make(birth, sex)
            taken = Member.objects.filter(id_number=number).exists()
            if not taken and not Cadre.objects.filter(id_number=number).exists():
                break
        if not name:
            ethnicity = "08" if _chance(rng, 0.8) else "01"
            name = _surname(rng, ethnicity) + _given_name(rng, sex, birth.year)
        prefix = demo_names.PHONE_PREFIXES[int(rng.integers(len(demo_names.PHONE_PREFIXES)))]
        cadre = services.create_cadre(
            self.admin,
            {
                "name": name,
                "sex": "1" if sex == "M" else "2",
                "id_number": number,
                "employer": employer,
                "post": post,
                "phone": prefix + f"{int(rng.integers(0, 10**8)):08d}",
                "in_service": True,
                "level": level,
                "area": area,
                "active": True,
            },
            reason=f"{DEMO_MARK}：帮扶干部名单",
        )
        self.made.append(cadre)
        return cadre


def _registration_days(households: Sequence[Household]) -> dict[int, dt.date]:
    """Each household's registration day (its first `register` step), or its first step:
    a pairing starts there (services.pair refuses a start before the first step)."""
    rows = (
        StatusChange.objects.filter(household__in=households)
        .values("household")
        .annotate(
            first=Min("date"),
            registered=Min("date", filter=Q(transition="register")),
        )
    )
    found = {r["household"]: r["registered"] or r["first"] for r in rows}
    return {h.pk: found.get(h.pk) or h.status_date or SURVEY_DATE for h in households}


def _plan(
    rng: np.random.Generator,
    user: User,
    household: Household,
    start: dt.date,
    responsible: str,
    copy_of: list[dict[str, Any]] | None = None,
    most: int = 3,
) -> tuple[Plan, list[dict[str, Any]]]:
    """The household's plan with 1–3 measures taken from its suggestions (or a copy of
    another household's measures, for the 同质化 example)."""
    plan = services.make_plan(user, household, goal="两不愁三保障，2019年底前稳定脱贫")
    if copy_of is None:
        kinds = services.suggested_measures(household)[: int(rng.integers(1, most + 1))]
        copy_of = []
        for kind in kinds:
            goal, (low, high), funding, _result = MEASURE_TEMPLATES[kind.category]
            copy_of.append(
                {
                    "category": kind.category,
                    "kind": kind.code,
                    "target": f"{kind.label_zh}：{goal}",
                    "amount": _amount(rng, low, high),
                    "funding_source": funding,
                }
            )
    for spec in copy_of:
        starts = _day(rng, max(start, dt.date(2017, 3, 1)), dt.date(2019, 6, 30))
        ends = starts + dt.timedelta(days=int(rng.integers(120, 720)))
        done = ends <= DEMO_AS_OF
        result = MEASURE_TEMPLATES[spec["category"]][3]
        services.add_measure(
            user,
            plan,
            {
                **spec,
                "starts_on": starts,
                "ends_on": ends,
                "responsible": responsible,
                "status": MeasureStatus.DONE if done else MeasureStatus.UNDER_WAY,
                "progress": 100 if done else int(rng.integers(2, 9)) * 10,
                "result": result if done else "",
            },
            plan.version,
        )
    return plan, copy_of


def load_support_demo(county: str, village: str, township: str, admin: User) -> dict[str, int]:
    """Support for the demo village and its township; returns what was made, by kind.

    Every must-be-paired household of the township gets a cadre (≤ the policy's limit
    each); the demo user `support_cadre` is the cadre of 2–3 households of the village.
    """
    rng = np.random.default_rng([SEED, int(county)])
    rules = policy.rules().pairing
    names = dict(Area.objects.filter(code__in=[county, township]).values_list("code", "name"))
    county_name, township_name = names.get(county, ""), names.get(township, "")
    cadre_user = User.objects.filter(username=demo_username("support_cadre", county)).first()
    counts = dict.fromkeys(
        ("cadres", "pairings", "teams", "plans", "measures", "visits", "ledger_entries"), 0
    )

    households = list(
        Household.objects.in_area(township)
        .filter(status__in=rules.must_be_paired_statuses)
        .order_by("code")
    )
    registered = _registration_days(households)
    in_village = [h for h in households if h.village_id == village]
    others = [h for h in households if h.village_id != village]
    maker = _CadreMaker(county, rng, admin)

    def county_cadre() -> Cadre:
        employer, post = COUNTY_ORGANS[int(rng.integers(len(COUNTY_ORGANS)))]
        return maker.make(
            employer=employer.format(county=county_name),
            post=post,
            level=CadreLevel.COUNTY,
            area=county,
        )

    def township_cadre(post: str = "") -> Cadre:
        employer, default = TOWNSHIP_ORGANS[int(rng.integers(len(TOWNSHIP_ORGANS)))]
        return maker.make(
            employer=employer.format(township=township_name),
            post=post or default,
            level=CadreLevel.TOWNSHIP,
            area=township,
        )

    # The demo login's cadre: a township cadre in charge of the village (包村干部). His
    # area is the village, the area of his login, so that he reaches his own record.
    own: Cadre | None = None
    if cadre_user is not None and in_village:
        own = maker.make(
            name=cadre_user.full_name,
            sex="M",
            employer=f"{township_name}人民政府",
            post="包村干部",
            level=CadreLevel.TOWNSHIP,
            area=village,
        )
        services.link_login(admin, own, cadre_user, reason=f"{DEMO_MARK}：帮扶干部登录账号")

    # Pairings: the demo cadre first, then the village's and the township's households in
    # groups of 1–3, each with a cadre of a county or township organ.
    limit = rules.max_households_per_cadre
    cadre_of: dict[int, Cadre] = {}
    queue = list(in_village)
    if own is not None:
        take = min(len(queue), int(rng.integers(2, limit + 1)))
        for h in queue[:take]:
            cadre_of[h.pk] = own
        queue = queue[take:]
    queue += others
    while queue:
        size = min(len(queue), limit, int(rng.choice([1, 2, 3], p=[0.15, 0.35, 0.5])))
        cadre = county_cadre() if _chance(rng, 0.6) else township_cadre()
        for h in queue[:size]:
            cadre_of[h.pk] = cadre
        queue = queue[size:]
    for h in households:
        start = registered[h.pk]
        services.pair(admin, cadre_of[h.pk], h, start, reason=f"{DEMO_MARK}：结对帮扶")
        counts["pairings"] += 1

    # The village's resident team: a first secretary from a county organ, a township
    # leader and the demo cadre as a member; the county sets the village's geofence.
    leader = township_cadre("驻村工作队队长")
    secretary = county_cadre()
    team = services.create_team(
        admin,
        village=village,
        sending_unit=secretary.employer,
        term_start=TEAM_TERM[0],
        term_end=TEAM_TERM[1],
    )
    counts["teams"] = 1
    roles: list[tuple[str, Cadre | None]] = [
        (TeamRole.FIRST_SECRETARY, secretary),
        (TeamRole.LEADER, leader),
        (TeamRole.MEMBER, own),
    ]
    for role, on_team in roles:
        if on_team is not None:
            services.add_member(admin, team, cadre=on_team, role=role, joined_on=TEAM_TERM[0])
    centre = village_centre(village)
    services.set_geofence(
        admin, village, centre[0], centre[1], GEOFENCE_RADIUS_M, reason=f"{DEMO_MARK}：村部位置"
    )
    counts["cadres"] = len(maker.made)

    # Plans for most households (a few left without, for the rectification list), one
    # copied plan, visits in 2018–2019 and a few ledgers.
    copied: list[dict[str, Any]] | None = None
    copy_left = 2
    for i, h in enumerate(households):
        cadre = cadre_of[h.pk]
        recorder = cadre_user if cadre == own and cadre_user is not None else admin
        start = registered[h.pk]
        mine = cadre == own
        if mine or _chance(rng, 0.85):
            # The demo cadre's plans keep suggestions open: the phone test adds one.
            reuse = copied if (copy_left == 1 and copied is not None and not mine) else None
            _made, specs = _plan(rng, recorder, h, start, cadre.name, reuse, 2 if mine else 3)
            if copy_left == 2 and not mine and i % 3 == 0:
                copied, copy_left = specs, 1
            elif reuse is not None:
                copy_left = 0
            counts["plans"] += 1
            counts["measures"] += len(specs)
        lat, lon = village_centre(h.village_id)
        for _ in range(int(rng.integers(1, 3)) if mine or _chance(rng, 0.6) else 0):
            services.record_visit(
                recorder,
                h,
                date=_day(rng, max(start, dt.date(2018, 1, 1)), DEMO_AS_OF),
                work_done=VISIT_WORK[int(rng.integers(len(VISIT_WORK)))],
                needs=VISIT_NEEDS[int(rng.integers(len(VISIT_NEEDS)))],
                latitude=lat + Decimal(int(rng.integers(-4000, 4000))) / 10**6,
                longitude=lon + Decimal(int(rng.integers(-4000, 4000))) / 10**6,
                cadre=cadre,
            )
            counts["visits"] += 1
        if h.village_id == village and (mine or _chance(rng, 0.4)):
            for _ in range(int(rng.integers(4, 9))):
                direction, category, (low, high), note = LEDGER_LINES[
                    int(rng.integers(len(LEDGER_LINES)))
                ]
                services.add_ledger_entry(
                    recorder,
                    h,
                    date=_day(rng, dt.date(2019, 1, 1), DEMO_AS_OF),
                    direction=direction,
                    category=category,
                    amount=_amount(rng, low, high),
                    note=note,
                )
                counts["ledger_entries"] += 1
    return counts


def figures(county: str) -> dict[str, int]:
    """What support the county holds now (the demo command's report)."""
    return {
        "cadres": Cadre.objects.in_area(county).count(),
        "pairings": Pairing.objects.in_area(county).filter(ended_on__isnull=True).count(),
        "teams": ResidentTeam.objects.in_area(county).count(),
        "plans": Plan.objects.in_area(county).count(),
        "visits": Visit.objects.in_area(county).count(),
    }


def _demo_cadres(county: str) -> list[int]:
    """The county's cadres the demo made: their creation entry carries DEMO_MARK."""
    ids = [str(pk) for pk in Cadre.objects.in_area(county).values_list("pk", flat=True)]
    made = AuditEntry.objects.filter(
        action="support.cadre.create", object_id__in=ids, reason__startswith=DEMO_MARK
    ).values_list("object_id", flat=True)
    return sorted({int(pk) for pk in made})


def reset_support_demo(county: str) -> dict[str, int]:
    """Before the demo's households are deleted: every support row that refers to them
    (pairings, plans and measures, visits and their photos, ledgers, households' needs),
    the cadres the demo made with their team places and check-ins, and the teams left with
    demo cadres only. Cadres and teams someone added by hand stay. Audited; returns the
    counts. Must run inside the reset's transaction."""
    households = Household.objects.in_area(county)
    cadres = _demo_cadres(county)
    visits = Visit.objects.filter(household__in=households)
    photos = list(Attachment.objects.filter(visit__in=visits).distinct())
    teams = (
        ResidentTeam.objects.in_area(county)
        .filter(members__cadre__in=cadres)
        .exclude(members__in=TeamMember.objects.exclude(cadre__in=cadres))
        .distinct()
    )
    team_ids = list(teams.values_list("pk", flat=True))
    counts = {
        "pairings": Pairing.objects.filter(Q(household__in=households) | Q(cadre__in=cadres))
        .distinct()
        .count(),
        "plans": Plan.objects.filter(household__in=households).count(),
        "visits": visits.count(),
        "ledger_entries": LedgerEntry.objects.filter(household__in=households).count(),
        "cadres": len(cadres),
        "teams": len(team_ids),
    }
    Pairing.objects.filter(Q(household__in=households) | Q(cadre__in=cadres)).delete()
    Plan.objects.filter(household__in=households).delete()  # measures go with them
    Visit.objects.filter(Q(household__in=households) | Q(cadre__in=cadres)).delete()
    Attachment.objects.filter(pk__in=[p.pk for p in photos]).delete()
    LedgerEntry.objects.filter(household__in=households).delete()
    Need.objects.filter(household__in=households).delete()
    CheckIn.objects.filter(member__cadre__in=cadres).delete()
    TeamMember.objects.filter(cadre__in=cadres).delete()
    ResidentTeam.objects.filter(pk__in=team_ids).delete()
    Cadre.objects.filter(pk__in=cadres).delete()
    files = [p.file for p in photos]

    def remove_files() -> None:
        for f in files:
            f.delete(save=False)

    transaction.on_commit(remove_files)
    audit.record(
        user=None,
        action="support.demo.reset",
        object_type="core.area",
        object_id=county,
        area_code=county,
        before=counts,
        after=dict.fromkeys(counts, 0),
        reason=f"{DEMO_MARK}：fupin demo --reset",
    )
    return counts
