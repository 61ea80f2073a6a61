"""Demo data for a new embedded hub: a believable city for the console and supervision.

``hub init --demo`` loads it into an empty database: the departments of the design with the
leading group's office, an access key each (written to ``demo-keys.txt``), and forty major
projects of Hangzhou's districts with what the departments publish about them: task forces,
milestones, land parcels, funding, permits, the monthly progress reports and the joint
meeting's problem list. Some projects are on track, some are not, each for a reason the
supervision board names (DESIGN §6): milestones late, permits past their statutory working
days, investment behind the share of the year elapsed, a report missing, land not ready for a
construction start, funding short, a coordination item overdue, a project stalled.

Everything is laid out relative to a day (today in the city, by default) from a fixed seed,
so the demo is the same for the same day and stays believable whenever it is loaded. Records
are published through the records service, one unit of work, in the order of the moments they
describe; their versions are then dated at those moments (this is seed data: a direct update
of the ``created_at`` of the versions just written, ascending per record), so that a project
stalls, a report is late and a past day's board is that day's board. Every moment is before
the day the demo is laid out for.
"""

from __future__ import annotations

import copy
import random
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from hub.audit.entries import Actor
from hub.auth import service as auth
from hub.auth.identity import Identity, key_actor
from hub.auth.models import Department
from hub.core.http import city_today
from hub.records import service as records
from hub.records.models import Record, RecordVersion
from hub.supervision.labels import DIVISION
from hub.supervision.rules import rules
from hub.supervision.signals import Thresholds, year_share
from hub.users import service as users
from schemas import registry
from schemas.workdays import WorkCalendar

KEYS_FILE = "demo-keys.txt"
CONSOLE_ADMIN = "admin"
CONSOLE_OFFICE = "office"
READER_SCOPES = ["records:read", "events:read", "subscriptions", "grants"]
SEED = 20261020

# id, name, the record types it publishes, the scopes of its demo key beyond reading
DEPARTMENTS: list[tuple[str, str, list[str], list[str]]] = [
    ("ndrc", "市发展和改革委员会", ["project", "progress_report"], ["records:write"]),
    ("land", "市规划和自然资源局", ["land_parcel"], ["records:write"]),
    ("finance", "市财政局", ["funding"], ["records:write"]),
    ("approval", "市行政审批服务局", ["permit"], ["records:write"]),
    (
        "office",
        "市重大项目建设领导小组办公室",
        ["coordination_item"],
        ["records:write", "supervision"],
    ),
]
ADMIN_DEPARTMENT = ("admin", "数据交换平台管理")

LEADERS = {
    "王力": "副市长",
    "陈静": "副市长",
    "刘洋": "副市长",
    "周涛": "市政府秘书长",
    "赵敏": "西湖区区长",
    "孙建华": "萧山区区长",
    "吴晓东": "余杭区区长",
    "钱立新": "钱塘区区长",
}
# the people each department sends to task forces
STAFF = {
    "ndrc": ("李明", "何平", "高翔"),
    "land": ("陈建国", "黄丽", "蒋勇"),
    "finance": ("张伟", "郑芳"),
    "approval": ("林涛", "许婷"),
    "office": ("冯雪", "韩磊"),
}
CONTACTS = ("陈华", "李娜", "王强", "刘芳", "杨帆", "赵磊", "黄静", "周斌", "吴倩", "徐亮")
# a project on a site it already has needs no new land
NO_NEW_LAND = ("改造", "提升", "扩建", "加固")


@dataclass(frozen=True)
class Plan:
    """A demo project: what it is, and what goes wrong with it (``troubles``, see ``_City``)."""

    name: str
    category: str
    division: str
    lead_department: str
    leader: str
    stage: str
    total_investment: float
    scope: str
    troubles: tuple[str, ...] = ()
    code: str | None = None


INFRA, INDUSTRY, CULTURE, PUBLIC = "infrastructure", "industry", "culture_tourism", "public_service"
BUILDING, PRELIMINARY = "construction", "preliminary"

# fmt: off
PLANS: tuple[Plan, ...] = (
    # the two projects the connector demo's simulated systems attach records to
    Plan("沿江地铁3号线一期工程", INFRA, "330102", "市交通运输局", "王力", BUILDING, 1850000,
         "线路全长约21.6公里，设车站15座，采用地下敷设方式，同步建设车辆段一座。",
         ("milestone_late",), code="2503-330102-04-01-7K3Q9B"),
    Plan("西湖数字文化产业园", CULTURE, "330106", "市文化广电旅游局", "赵敏", PRELIMINARY,
         326000.5, "规划建设数字内容创作、影视后期及文化装备展示空间，总建筑面积约18万平方米。",
         ("permit_overdue",), code="2504-330106-03-02-2M8X4D"),
    Plan("城东快速路二期", INFRA, "330102", "市交通运输局", "王力", BUILDING, 486000,
         "新建城市快速路约8.4公里，主线高架双向六车道，地面辅道双向四车道。",
         ("milestone_very_late", "item_overdue")),
    Plan("之江路综合管廊工程", INFRA, "330106", "市城乡建设委员会", "王力", BUILDING, 213500,
         "新建综合管廊约6.2公里，纳入电力、通信、给水、再生水等管线。",
         ("investment_behind", "item_resolved")),
    Plan("机场轨道快线配套工程", INFRA, "330109", "市交通运输局", "王力", BUILDING, 392000,
         "建设机场快线沿线站点附属设施、交通接驳及站前广场工程。",
         ("permit_very_overdue", "item_resolved_late")),
    Plan("江南大道提升改造工程", INFRA, "330108", "滨江区人民政府", "陈静", BUILDING, 98600,
         "对江南大道约5.3公里路段实施路面改造、慢行系统及景观提升。"),
    Plan("临平新城中环路工程", INFRA, "330113", "临平区人民政府", "刘洋", BUILDING, 156000,
         "新建城市主干路约7.1公里，双向六车道，含跨河桥梁3座。",
         ("investment_far_behind", "item_in_progress")),
    Plan("富春江堤防加固工程", INFRA, "330111", "市林业水利局", "刘洋", BUILDING, 87300,
         "加固提升富春江两岸堤防约18公里，防洪标准提高至50年一遇。"),
    Plan("东西大道西延工程", INFRA, "330110", "余杭区人民政府", "吴晓东", BUILDING, 264000,
         "新建城市快速路约6.8公里，双向六车道，设互通立交2座。"),
    Plan("江东大道快速化改造工程", INFRA, "330114", "市交通运输局", "钱立新", PRELIMINARY,
         318000, "对江东大道约12公里实施快速化改造，新建高架主线及匝道。"),
    Plan("青山湖科技城综合交通枢纽", INFRA, "330112", "临安区人民政府", "刘洋", PRELIMINARY,
         142000, "建设集公交、长途客运、出租车及社会停车于一体的综合交通枢纽。"),
    Plan("富春未来城污水处理厂", INFRA, "330122", "桐庐县人民政府", "刘洋", BUILDING, 65800,
         "新建污水处理厂一座，设计规模每日5万吨，配套进厂管网约9公里。"),
    Plan("萧山经济技术开发区智能制造产业园", INDUSTRY, "330109", "萧山区人民政府", "孙建华",
         BUILDING, 520000, "建设智能制造标准厂房约42万平方米及研发中心、公共服务平台。",
         ("milestone_very_late", "item_in_progress")),
    Plan("滨江物联网产业园三期", INDUSTRY, "330108", "市经济和信息化局", "陈静", BUILDING,
         276000, "建设物联网研发办公楼及中试厂房，总建筑面积约26万平方米。",
         ("report_missing",)),
    Plan("未来科技城人工智能小镇二期", INDUSTRY, "330110", "余杭区人民政府", "吴晓东", BUILDING,
         410000, "建设人工智能企业孵化、算力中心及人才公寓，总建筑面积约35万平方米。",
         ("item_resolved",)),
    Plan("新能源汽车零部件产业基地", INDUSTRY, "330114", "钱塘区人民政府", "钱立新", PRELIMINARY,
         380000, "引进新能源汽车电驱、电控及热管理零部件项目，建设生产厂房约30万平方米。",
         ("land_not_ready", "item_open")),
    Plan("临平高端装备制造基地", INDUSTRY, "330113", "临平区人民政府", "刘洋", BUILDING, 198000,
         "建设高端装备整机及关键部件生产线，新建厂房约18万平方米。"),
    Plan("富阳光电产业园", INDUSTRY, "330111", "富阳区人民政府", "陈静", BUILDING, 167000,
         "建设光通信器件及光电芯片封装测试厂房，总建筑面积约15万平方米。"),
    Plan("青山湖新材料产业园", INDUSTRY, "330112", "临安区人民政府", "陈静", PRELIMINARY, 135000,
         "建设高性能复合材料及电子新材料生产基地，分两期实施。"),
    Plan("云栖生命健康产业园", INDUSTRY, "330106", "西湖区人民政府", "赵敏", BUILDING, 228000,
         "建设生物医药研发中试平台及生命健康企业总部，总建筑面积约20万平方米。"),
    Plan("桐庐快递物流装备产业园", INDUSTRY, "330122", "桐庐县人民政府", "陈静", BUILDING, 96000,
         "建设智能分拣、快递物流装备研发制造基地及配套仓储设施。",
         ("investment_behind", "milestone_late", "item_resolved")),
    Plan("智慧网谷数字经济产业园", INDUSTRY, "330105", "拱墅区人民政府", "陈静", "completed",
         143000, "将老旧厂区建设为数字经济产业空间，总建筑面积约12万平方米。"),
    Plan("大运河国家文化公园（拱墅段）", CULTURE, "330105", "市文化广电旅游局", "周涛", BUILDING,
         356000, "实施运河沿线遗产保护展示、滨水空间提升及文化场馆建设。",
         ("milestone_very_late", "permit_overdue", "item_escalated")),
    Plan("良渚文化艺术中心二期", CULTURE, "330110", "余杭区人民政府", "吴晓东", BUILDING, 78500,
         "建设剧场、美术馆及配套公共文化空间，总建筑面积约4.6万平方米。"),
    Plan("德寿宫遗址保护展示工程", CULTURE, "330102", "市园林文物局", "周涛", BUILDING, 46200,
         "实施遗址本体保护、展示馆建设及周边环境整治。"),
    Plan("湘湖旅游度假区提升工程", CULTURE, "330109", "萧山区人民政府", "孙建华", BUILDING,
         132000, "实施湘湖三期景区基础设施、游客服务中心及生态修复工程。",
         ("item_overdue",)),
    Plan("富春山居文旅综合体", CULTURE, "330111", "富阳区人民政府", "周涛", PRELIMINARY, 208000,
         "建设以山水文化为主题的度假酒店、文创街区及游客集散中心。",
         ("stalled",)),
    Plan("富春江慢生活旅游区", CULTURE, "330122", "桐庐县人民政府", "周涛", "reserve", 54000,
         "规划建设滨江绿道、民宿集群及旅游服务配套设施。"),
    Plan("天目山景区提升工程", CULTURE, "330112", "临安区人民政府", "周涛", BUILDING, 61800,
         "实施景区游步道、索道站房、游客中心改造及智慧景区建设。",
         ("permit_overdue_holiday",)),
    Plan("千岛湖环湖绿道提升工程", CULTURE, "330127", "淳安县人民政府", "周涛", BUILDING, 38600,
         "提升改造环湖绿道约42公里，新建驿站及观景平台。"),
    Plan("市第一人民医院钱塘院区", PUBLIC, "330114", "市卫生健康委员会", "陈静", BUILDING,
         356000, "新建三级综合医院院区，设置床位1200张，总建筑面积约32万平方米。",
         ("investment_far_behind", "funding_short", "item_in_progress")),
    Plan("上城区九年一贯制学校新建工程", PUBLIC, "330102", "市教育局", "陈静", BUILDING, 58600,
         "新建48个班九年一贯制学校，总建筑面积约6.8万平方米。",
         ("milestone_late",)),
    Plan("滨江区妇幼保健院迁建工程", PUBLIC, "330108", "市卫生健康委员会", "陈静", BUILDING,
         124000, "迁建妇幼保健院，设置床位400张，总建筑面积约11万平方米。",
         ("item_resolved",)),
    Plan("萧山体育中心改造工程", PUBLIC, "330109", "萧山区人民政府", "孙建华", BUILDING, 86000,
         "对体育场、体育馆实施结构加固、看台改造及场馆智能化提升。"),
    Plan("保障性租赁住房（一期）", PUBLIC, "330110", "市住房保障和房产管理局", "吴晓东",
         BUILDING, 172000, "建设保障性租赁住房约3200套，配套社区服务及商业设施。",
         ("funding_short",)),
    Plan("临平区养老服务中心", PUBLIC, "330113", "市民政局", "刘洋", PRELIMINARY, 42000,
         "新建综合性养老服务中心，设置养老床位600张及康复护理设施。"),
    Plan("紫金港第二小学", PUBLIC, "330106", "市教育局", "赵敏", BUILDING, 45800,
         "新建36个班小学，总建筑面积约4.2万平方米。"),
    Plan("富阳区人民医院医技楼扩建", PUBLIC, "330111", "市卫生健康委员会", "陈静", BUILDING,
         67400, "扩建医技综合楼，新增医技用房约3.5万平方米。"),
    Plan("城市应急救援指挥中心", PUBLIC, "330114", "市应急管理局", "钱立新", PRELIMINARY, 39800,
         "建设城市应急指挥、物资储备及救援训练综合设施。",
         ("item_open",)),
    Plan("千岛湖镇第二水厂扩建工程", PUBLIC, "330127", "淳安县人民政府", "刘洋", "completed",
         28600, "扩建水厂规模至每日10万吨，配套建设原水管线及清水池。"),
)
# fmt: on
# the codes of the projects the connector demo attaches records to (connectors/cli.py)
PROJECT_CODES = tuple(plan.code for plan in PLANS if plan.code)

# the middle nodes of a project under construction, by category
PHASES = {
    INFRA: ("桩基及下部结构完成", "主体工程完工"),
    INDUSTRY: ("主体厂房结构封顶", "设备安装调试完成"),
    CULTURE: ("主体建筑结构封顶", "景观及配套工程完成"),
    PUBLIC: ("主体结构封顶", "室内装修及机电安装完成"),
}
LAND_USE = {INFRA: "infrastructure", INDUSTRY: "industrial", CULTURE: "mixed", PUBLIC: "public"}
AUTHORITIES = {
    "land_pre_review": "市规划和自然资源局",
    "site_selection": "市规划和自然资源局",
    "planning_permit": "市规划和自然资源局",
    "eia": "市生态环境局",
    "energy_review": "市发展和改革委员会",
    "construction_permit": "市城乡建设委员会",
    "completion_acceptance": "市城乡建设委员会",
}
STATUTORY_DAYS = {
    "land_pre_review": 20,
    "site_selection": 20,
    "planning_permit": 20,
    "eia": 30,
    "energy_review": 20,
    "construction_permit": 10,
    "completion_acceptance": 15,
}
# what the joint meeting takes up for a project with an item_* trouble: title, factor, who
# raised it, who must solve it, notes (conditional: the leaders' instructions)
ITEMS = {
    "城东快速路二期": (
        "沿线燃气、电力管线迁改滞后，影响主线桥梁桩基施工",
        "other",
        "ndrc",
        ["land", "finance"],
        "王力副市长要求：管线迁改费用由财政先行垫付，月底前完成迁改。",
    ),
    "湘湖旅游度假区提升工程": (
        "三期用地征收补偿资金缺口约1.2亿元",
        "funding",
        "office",
        ["finance"],
        "孙建华区长要求：区财政与市财政会商，明确资金来源。",
    ),
    "机场轨道快线配套工程": (
        "站点附属工程施工许可并联审批",
        "permit",
        "ndrc",
        ["approval"],
        "开通绿色通道，容缺受理。",
    ),
    "之江路综合管廊工程": (
        "高压电力管线迁改方案审批",
        "permit",
        "ndrc",
        ["approval", "land"],
        None,
    ),
    "市第一人民医院钱塘院区": (
        "年度建设资金缺口协调",
        "funding",
        "ndrc",
        ["finance"],
        "陈静副市长批示：专项债额度优先保障。",
    ),
    "新能源汽车零部件产业基地": (
        "项目地块征收及供地进度",
        "land",
        "office",
        ["land"],
        "确保开工前完成供地。",
    ),
    "大运河国家文化公园（拱墅段）": (
        "文物保护方案与二期环评审批衔接",
        "permit",
        "ndrc",
        ["approval", "land"],
        "已提请领导小组会议研究。",
    ),
    "萧山经济技术开发区智能制造产业园": (
        "主体厂房施工单位更换后复工",
        "other",
        "office",
        ["ndrc"],
        None,
    ),
    "桐庐快递物流装备产业园": (
        "专业技术人才招引及落户",
        "talent",
        "ndrc",
        ["ndrc"],
        None,
    ),
    "未来科技城人工智能小镇二期": (
        "配套道路建设用地报批",
        "land",
        "office",
        ["land"],
        None,
    ),
    "滨江区妇幼保健院迁建工程": (
        "医疗设备采购资金拨付",
        "funding",
        "ndrc",
        ["finance"],
        None,
    ),
    "临平新城中环路工程": (
        "征迁进度滞后影响投资完成",
        "land",
        "office",
        ["land"],
        "刘洋副市长要求：征迁工作挂图作战，每周报送进度。",
    ),
    "城市应急救援指挥中心": (
        "项目选址意见书办理",
        "permit",
        "ndrc",
        ["land", "approval"],
        None,
    ),
}
RESOLUTIONS = {
    "permit": "已开通绿色通道，完成审批。",
    "land": "用地报批材料已上报并获批复。",
    "funding": "资金已拨付到位。",
    "talent": "已纳入人才引进计划，首批人员已到岗。",
    "other": "问题已协调解决。",
}
PROBLEMS = {
    "investment_behind": "受征迁进度影响，部分标段施工滞后，投资完成低于序时。",
    "investment_far_behind": "征迁及资金未到位，施工组织不足，投资完成严重滞后。",
    "funding_short": "年度建设资金尚未足额落实，申请专项债额度支持。",
    "milestone_late": "节点工期滞后，已督促施工单位增加作业面。",
    "milestone_very_late": "关键节点严重滞后，需协调解决外部制约因素。",
}


@dataclass(frozen=True)
class Write:
    """A record published at a moment (UTC) by a department."""

    moment: datetime
    department: str
    type_name: str
    key: str
    data: dict[str, Any]


def is_empty(session: Session) -> bool:
    """Whether no department exists yet."""
    return session.scalar(select(Department.id).limit(1)) is None


def load_console_admin(session: Session, settings: Mapping[str, Any]) -> str:
    """Create the demo's console administrator (``admin``) with an invitation; its token."""
    return _console_user(session, settings, CONSOLE_ADMIN, "admin", "admin", "演示管理员")


def load_console_office(session: Session, settings: Mapping[str, Any]) -> str:
    """Create the demo's console user of the leading group's office (``office``, role
    ``office``: the supervision pages) with an invitation; its token."""
    return _console_user(session, settings, CONSOLE_OFFICE, "office", "office", "领导小组办公室")


def _console_user(
    session: Session,
    settings: Mapping[str, Any],
    username: str,
    department: str,
    role: str,
    display_name: str,
) -> str:
    _, token = users.add_user(
        session, Actor.cli(), username, department, role, settings, display_name=display_name
    )
    assert token is not None, "a user without a password gets an invitation"
    return token


def load_demo(
    session: Session, instance_path: Path, today: date | None = None
) -> list[tuple[str, str]]:
    """Create the demo departments, keys and records, laid out relative to ``today`` (the
    city's today by default); write the keys to the instance folder; return (department,
    secret) pairs."""
    identities: dict[str, Identity] = {}
    lines: list[tuple[str, str]] = []
    operator = Actor.cli()
    admin_id, admin_name = ADMIN_DEPARTMENT
    auth.add_department(session, operator, admin_id, admin_name, [])
    _, secret = auth.create_key(
        session, operator, admin_id, ["admin", *READER_SCOPES], "demo admin"
    )
    lines.append((admin_id, secret))
    for department_id, name, publishes, scopes in DEPARTMENTS:
        auth.add_department(session, operator, department_id, name, publishes)
        key, secret = auth.create_key(
            session, operator, department_id, [*scopes, *READER_SCOPES], f"demo {department_id}"
        )
        identities[department_id] = Identity(
            key.id,
            department_id,
            frozenset(key.scopes),
            frozenset(publishes),
            key_actor(key.id, department_id),
        )
        lines.append((department_id, secret))
    configured = rules()
    city = _City(today or city_today(), configured.calendar, configured.zone, configured.thresholds)
    _publish(session, identities, city.build())
    keys_file = instance_path / KEYS_FILE
    keys_file.write_text("".join(f"{dept:<10} {secret}\n" for dept, secret in lines))
    keys_file.chmod(0o600)
    return lines


def _publish(session: Session, identities: Mapping[str, Identity], writes: list[Write]) -> None:
    """Publish ``writes`` in the order of their moments, then date each version written at its
    moment (and each record at its first and latest)."""
    types = registry()
    stamps: list[dict[str, Any]] = []
    spans: dict[int, tuple[datetime, datetime]] = {}
    for write in sorted(writes, key=lambda write: write.moment):
        outcome = records.publish(
            session, identities[write.department], types[write.type_name], write.key, write.data
        )
        if outcome.status == "unchanged":
            raise AssertionError(f"demo write of {write.type_name}/{write.key} changes nothing")
        record = outcome.record
        stamps.append({"record": record.id, "number": record.version, "at": write.moment})
        first = spans.get(record.id, (write.moment, write.moment))[0]
        spans[record.id] = (first, write.moment)
    versions = cast(Table, RecordVersion.__table__)
    table = cast(Table, Record.__table__)
    connection = session.connection()
    connection.execute(
        update(versions)
        .where(
            versions.c.record_id == bindparam("record"), versions.c.version == bindparam("number")
        )
        .values(created_at=bindparam("at")),
        stamps,
    )
    connection.execute(
        update(table)
        .where(table.c.id == bindparam("record"))
        .values(created_at=bindparam("first"), updated_at=bindparam("last")),
        [
            {"record": record, "first": first, "last": last}
            for record, (first, last) in spans.items()
        ],
    )


class _City:
    """The demo's projects and their records as of ``today``, as a list of writes.

    A plan's ``troubles`` say what is wrong with it today:

    - ``milestone_late`` / ``milestone_very_late``: a node past its planned date, not done
      (12 days; more than the red threshold, marked ``delayed``);
    - ``permit_overdue`` / ``permit_very_overdue``: a permit pending past its statutory working
      days (up to, and past, the red factor); ``permit_overdue_holiday``: the same for a permit
      submitted the working day before the last National Day holiday, when that is recent;
    - ``investment_behind`` / ``investment_far_behind``: this year's reports 20 / 40 points
      behind the share of the year elapsed;
    - ``report_missing``: no report for last month; ``stalled``: nothing changed for weeks;
    - ``land_not_ready``: the construction start is within the look-ahead, its parcel acquired;
    - ``funding_short``: this year's allocations a little over half the annual plan;
    - ``item_*``: a coordination item of the joint meeting, ``overdue``, ``open``,
      ``in_progress``, ``escalated``, ``resolved`` (on time) or ``resolved_late`` (a day late).
    """

    def __init__(
        self, today: date, calendar: WorkCalendar, zone: ZoneInfo, thresholds: Thresholds
    ) -> None:
        self.today = today
        self.calendar = calendar
        self.zone = zone
        self.thresholds = thresholds
        self.rng = random.Random(SEED)
        self.writes: list[Write] = []
        self.numbers: dict[str, int] = defaultdict(int)
        self.codes: set[str] = set()

    # --- days and moments ------------------------------------------------------------------------

    def days_ago(self, days: int) -> date:
        return self.today - timedelta(days=days)

    def workday(self, day: date) -> date:
        """``day``, or the working day before it."""
        while not self.calendar.is_workday(day):
            day -= timedelta(days=1)
        return day

    def before_today(self, day: date) -> date:
        """``day``, if it is before today; else yesterday."""
        return min(day, self.today - timedelta(days=1))

    def workdays_back(self, used: int) -> date:
        """The working day from which ``used`` working days have run by the end of today."""
        day, counted = self.today, 0
        while counted < used:
            if self.calendar.is_workday(day):
                counted += 1
            day -= timedelta(days=1)
        return self.workday(day)

    def moment(self, day: date) -> datetime:
        """A moment of office hours on ``day`` (before today), in UTC."""
        if day >= self.today:
            raise ValueError(f"demo moment {day} is not before {self.today}")
        hour, minute = self.rng.randint(9, 17), self.rng.randint(0, 59)
        return datetime.combine(day, time(hour, minute), tzinfo=self.zone).astimezone(UTC)

    def write(self, day: date, department: str, type_name: str, key: str, data: Any) -> None:
        self.writes.append(Write(self.moment(day), department, type_name, key, copy.deepcopy(data)))

    def number(self, series: str, start: int = 3) -> int:
        """The next number of a series of documents (from a random start)."""
        if series not in self.numbers:
            self.numbers[series] = start + self.rng.randint(0, 20)
        self.numbers[series] += self.rng.randint(1, 3)
        return self.numbers[series]

    # --- the city ---------------------------------------------------------------------------------

    def build(self) -> list[Write]:
        for plan in PLANS:
            _Project(self, plan).build()
        return self.writes

    def project_code(self, plan: Plan, registered: date) -> str:
        if plan.code is not None:
            return plan.code
        alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
        guiding = {INFRA: "04", INDUSTRY: "03", CULTURE: "05", PUBLIC: "06"}[plan.category]
        kind = "02" if _no_new_land(plan) else "01"
        while True:
            tail = "".join(self.rng.choice(alphabet) for _ in range(6))
            code = f"{registered:%y%m}-{plan.division}-{guiding}-{kind}-{tail}"
            if code not in self.codes:
                self.codes.add(code)
                return code


def _no_new_land(plan: Plan) -> bool:
    return any(word in plan.name for word in NO_NEW_LAND)


def _money(amount: float) -> float:
    return round(amount, 2)


def _period(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


class _Project:
    """One plan laid out: the project's versions and every record about it."""

    def __init__(self, city: _City, plan: Plan) -> None:
        self.city = city
        self.plan = plan
        self.rng = city.rng
        self.troubles = set(plan.troubles)
        self.active = plan.stage in (BUILDING, PRELIMINARY)
        self.stalled = "stalled" in self.troubles
        # how long a stalled project has been quiet
        self.idle = city.thresholds.stalled_days + 17
        self.has_land = not _no_new_land(plan) and plan.stage != "reserve"
        self.red_days = city.thresholds.milestone_red_days
        self.late_days = {
            "milestone_late": max(3, self.red_days * 2 // 5),
            "milestone_very_late": self.red_days + 15,
        }
        self._dates()
        self.code = city.project_code(plan, self.registered)
        self.plans: dict[int, float] = {}

    # --- the schedule --------------------------------------------------------------------------

    def _dates(self) -> None:
        city, rng, today = self.city, self.rng, self.city.today
        late = max(
            (days for trouble, days in self.late_days.items() if trouble in self.troubles),
            default=0,
        )
        stage = self.plan.stage
        if stage == BUILDING:
            start = city.days_ago(rng.randint(max(150, late + 120), max(560, late + 200)))
            registered = start - timedelta(days=rng.randint(240, 420))
            completion = start + timedelta(days=rng.randint(900, 1500))
            if late:
                completion = max(completion, today + timedelta(days=rng.randint(400, 700)))
        elif stage == PRELIMINARY:
            registered = city.days_ago(rng.randint(120, 330))
            ahead = city.thresholds.land_lookahead_days
            if "land_not_ready" in self.troubles:
                start = today + timedelta(days=max(1, ahead // 2))
            else:
                start = today + timedelta(days=rng.randint(ahead + 30, ahead + 240))
            completion = start + timedelta(days=rng.randint(720, 1200))
        elif stage == "completed":
            completion = city.days_ago(rng.randint(45, 120))
            start = completion - timedelta(days=rng.randint(700, 900))
            registered = start - timedelta(days=rng.randint(240, 360))
        else:  # reserve
            registered = city.days_ago(rng.randint(40, 90))
            start = today + timedelta(days=rng.randint(300, 500))
            completion = start + timedelta(days=rng.randint(720, 1000))
        if self.plan.code is not None:
            # the connector demo's projects keep their codes, issued in the code's month
            issued = date(2000 + int(self.plan.code[:2]), int(self.plan.code[2:4]), 10)
            registered = min(issued, registered)
        self.registered = city.workday(registered)
        self.start, self.completion = start, completion

    def _milestones(self) -> list[dict[str, Any]]:
        """The nodes with their planned dates and, for those done, actual dates (the
        project's current schedule)."""
        plan, today, rng = self.plan, self.city.today, self.rng
        start, completion, registered = self.start, self.completion, self.registered
        span = (completion - start).days
        if plan.stage in (BUILDING, "completed"):
            first, second = PHASES[plan.category]
            nodes = [
                ("可行性研究报告批复", registered + timedelta(days=45), "other"),
                ("初步设计批复", start - timedelta(days=60), "other"),
                ("开工建设", start, "construction_start"),
                (first, start + timedelta(days=span * 35 // 100), "other"),
                (second, start + timedelta(days=span * 70 // 100), "other"),
                ("竣工验收", completion, "completion"),
            ]
        elif plan.stage == PRELIMINARY:
            nodes = [
                ("项目建议书批复", registered + timedelta(days=20), "other"),
                ("可行性研究报告批复", registered + timedelta(days=110), "other"),
                ("初步设计批复", start - timedelta(days=45), "other"),
                ("开工建设", start, "construction_start"),
                ("竣工验收", completion, "completion"),
            ]
        else:
            nodes = [
                ("项目建议书编制完成", today + timedelta(days=40), "other"),
                ("开工建设", start, "construction_start"),
                ("竣工验收", completion, "completion"),
            ]
        late = next(
            (t for t in ("milestone_very_late", "milestone_late") if t in self.troubles), ""
        )
        milestones: list[dict[str, Any]] = []
        previous_actual = registered
        quiet_since = today - timedelta(days=self.idle + 10)
        for index, (name, planned, kind) in enumerate(nodes):
            milestone: dict[str, Any] = {"name": name, "kind": kind}
            if late and index == 3:
                milestone.update(planned_date=today - timedelta(days=self.late_days[late]))
                milestone["status"] = "delayed" if late == "milestone_very_late" else "pending"
                milestones.append(milestone)
                continue
            if late and index > 3:
                planned = max(planned, today + timedelta(days=60 * (index - 3)))
            if plan.stage == "completed":
                planned = min(planned, completion)
            elif abs((planned - today).days) <= 3 or (
                self.stalled and quiet_since <= planned < today + timedelta(days=5)
            ):
                # nothing falls due around today but what the plan says is late
                planned = today + timedelta(days=30)
            if (
                plan.stage != "reserve"
                and planned < today
                and kind != "completion"
                or (plan.stage == "completed")
            ):
                actual = planned + timedelta(days=rng.randint(-6, 9))
                if kind == "construction_start":
                    actual = planned + timedelta(days=rng.randint(0, 12))
                ceiling = quiet_since if self.stalled else today - timedelta(days=2)
                actual = max(previous_actual + timedelta(days=1), min(actual, ceiling))
                previous_actual = actual
                milestone.update(
                    planned_date=planned, actual_date=actual.isoformat(), status="done"
                )
            else:
                milestone.update(planned_date=planned, status="pending")
            milestones.append(milestone)
        for milestone in milestones:
            milestone["planned_date"] = milestone["planned_date"].isoformat()
        return milestones

    # --- the records ---------------------------------------------------------------------------

    def build(self) -> None:
        milestones = self._milestones()
        self._project(milestones)
        if self.has_land:
            self._land()
        self._permits()
        self._funding()
        if self.active or self.plan.stage == "completed":
            self._reports()
        self._items()
        if self.active and not self.stalled:
            self._touch()

    def _data(self, milestones: list[dict[str, Any]], stage: str) -> dict[str, Any]:
        plan = self.plan
        return {
            "project_code": self.code,
            "name": plan.name,
            "category": plan.category,
            "stage": stage,
            "admin_division": plan.division,
            "lead_department": plan.lead_department,
            "responsible_leader": {"name": plan.leader, "title": LEADERS[plan.leader]},
            "total_investment": plan.total_investment,
            "planned_start": self.start.isoformat(),
            "planned_completion": self.completion.isoformat(),
            "milestones": milestones,
            "task_force": self.task_force,
            "contacts": [{"name": self.contact, "phone": self.phone}],
            "description": f"项目位于杭州市{DIVISION[plan.division]}。{plan.scope}",
        }

    def _project(self, milestones: list[dict[str, Any]]) -> None:
        """The project's versions: registered with every node pending, then one version as
        nodes are done (the stage following them) and as a late node is marked delayed."""
        rng, city = self.rng, self.city
        members = [("ndrc", "lead"), ("office", "liaison")]
        if self.has_land:
            members.insert(1, ("land", "member"))
        if self.plan.stage != "reserve":
            members[1:1] = [("finance", "member"), ("approval", "member")]
        self.task_force = [
            {"name": rng.choice(STAFF[department]), "department": department, "role": role}
            for department, role in members
        ]
        self.contact = rng.choice(CONTACTS)
        self.phone = f"0571-8{rng.randint(1000000, 9999999)}"
        initial_stage = "reserve" if self.plan.stage == "reserve" else PRELIMINARY
        pending = [
            {key: value for key, value in m.items() if key not in ("actual_date", "status")}
            | {"status": "pending"}
            for m in milestones
        ]
        changes: list[tuple[date, int, str]] = []
        for index, milestone in enumerate(milestones):
            if milestone["status"] == "done":
                changes.append((date.fromisoformat(milestone["actual_date"]), index, "done"))
            elif milestone["status"] == "delayed":
                marked = date.fromisoformat(milestone["planned_date"]) + timedelta(days=7)
                changes.append((marked, index, "delayed"))
        current = [dict(m) for m in pending]
        stage = initial_stage
        city.write(self.registered, "ndrc", "project", self.code, self._data(current, stage))
        changes.sort()
        by_day: dict[date, list[tuple[int, str]]] = defaultdict(list)
        for day, index, change in changes:
            recorded = city.before_today(city.workday(day + timedelta(days=1)))
            recorded = max(recorded, self.registered + timedelta(days=1))
            by_day[recorded].append((index, change))
        for day in sorted(by_day):
            for index, _ in by_day[day]:
                current[index] = dict(milestones[index])
                if (
                    milestones[index].get("kind") == "construction_start"
                    and current[index]["status"] == "done"
                ):
                    stage = BUILDING
                if (
                    milestones[index].get("kind") == "completion"
                    and current[index]["status"] == "done"
                ):
                    stage = "completed"
            city.write(day, "ndrc", "project", self.code, self._data(current, stage))
        self.current, self.stage_now = current, stage

    def _land(self) -> None:
        """One parcel (two for a large project): supplied before the start, or on its way."""
        city, rng, plan = self.city, self.rng, self.plan
        count = 2 if plan.total_investment >= 300000 and plan.stage == BUILDING else 1
        land_use = LAND_USE[plan.category]
        if plan.category == CULTURE and "公园" in plan.name:
            land_use = "public"
        method = "transfer" if land_use in ("industrial", "commercial", "mixed") else "allocation"
        for _ in range(count):
            created = self.registered + timedelta(days=rng.randint(20, 60))
            year = created.year
            series = "杭政储出" if method == "transfer" else "杭政划拨"
            key = f"{series}〔{year}〕{city.number(series + str(year))}号"
            area = round(min(900.0, max(8.0, plan.total_investment / rng.randint(900, 2600))), 1)
            data: dict[str, Any] = {
                "project_code": self.code,
                "area_mu": area,
                "land_use": land_use,
                "supply_method": method,
                "supply_status": "planned",
                "rights_holder": f"{DIVISION[plan.division]}{plan.name[:4]}建设发展有限公司",
            }
            if method == "transfer":
                data["transfer_price"] = _money(area * rng.randint(45, 160))
            if plan.stage in (BUILDING, "completed"):
                statuses = ["acquiring", "supplied"]
                supplied = city.workday(self.start - timedelta(days=rng.randint(20, 80)))
                supplied = max(supplied, created + timedelta(days=15))
                days = [created, supplied]
            elif "land_not_ready" in self.troubles:
                statuses = ["planned", "acquiring"]
                days = [created, city.before_today(city.days_ago(rng.randint(20, 40)))]
            else:
                statuses = ["planned", rng.choice(["acquiring", "ready"])]
                later = created + timedelta(days=rng.randint(40, 120))
                if self.stalled:
                    later = min(later, city.days_ago(self.idle + 5))
                days = [created, city.before_today(max(later, created + timedelta(days=10)))]
            for status, day in zip(statuses, days, strict=True):
                data["supply_status"] = status
                if status == "supplied":
                    data["supplied_on"] = day.isoformat()
                city.write(day, "land", "land_parcel", key, data)

    def _permit_no(self, item: str, day: date) -> str:
        city, division, year = self.city, self.plan.division, day.year
        number = city.number(f"{item}{year}")
        formats = {
            "land_pre_review": f"杭规划资源预〔{year}〕{number}号",
            "site_selection": f"选字第{division}{year}{number:05d}号",
            "planning_permit": f"建字第{division}{year}{number:05d}号",
            "eia": f"杭环评批〔{year}〕{number}号",
            "energy_review": f"杭发改能审〔{year}〕{number}号",
            "construction_permit": f"{division}{day:%Y%m%d}{number:04d}",
            "completion_acceptance": f"杭竣备〔{year}〕{number}号",
        }
        return formats[item]

    def _permit(
        self,
        item: str,
        submitted: date,
        *,
        decided_after: int | None,
        statutory: int | None = None,
    ) -> None:
        """A permit submitted on ``submitted``: approved ``decided_after`` working days later,
        or still pending (accepted two working days after submission) when None."""
        city, rng = self.city, self.rng
        limit = statutory or STATUTORY_DAYS[item]
        year = submitted.year
        key = f"HZSP-{year}-{city.number('permit' + str(year), 1200):05d}"
        data: dict[str, Any] = {
            "project_code": self.code,
            "item": item,
            "authority": AUTHORITIES[item],
            "status": "submitted",
            "submitted_at": submitted.isoformat(),
            "statutory_days": limit,
            "applicant_contact": f"{self.contact} 0571-8{rng.randint(1000000, 9999999)}",
        }
        city.write(submitted, "approval", "permit", key, data)
        if decided_after is None:
            accepted = city.calendar.add_workdays(submitted, 2)
            if accepted < city.today:
                city.write(accepted, "approval", "permit", key, {**data, "status": "accepted"})
            return
        approved = city.before_today(city.calendar.add_workdays(submitted, decided_after))
        data.update(
            status="approved",
            approved_at=approved.isoformat(),
            permit_no=self._permit_no(item, approved),
        )
        city.write(approved, "approval", "permit", key, data)

    def _permits(self) -> None:
        city, rng, plan = self.city, self.rng, self.plan
        if plan.stage == "reserve":
            return
        quiet = city.days_ago(self.idle + 5)

        def approved(item: str, submitted: date) -> None:
            submitted = city.workday(max(submitted, self.registered + timedelta(days=3)))
            limit = STATUTORY_DAYS[item]
            after = rng.randint(max(1, limit * 2 // 5), max(1, limit - 1))
            if city.calendar.add_workdays(submitted, after) >= city.today:
                return
            if self.stalled and city.calendar.add_workdays(submitted, after) >= quiet:
                return
            self._permit(item, submitted, decided_after=after)

        if self.has_land:
            approved("land_pre_review", self.registered + timedelta(days=15))
        approved("eia", self.registered + timedelta(days=60))
        if plan.stage in (BUILDING, "completed"):
            approved("planning_permit", self.start - timedelta(days=90))
            approved("construction_permit", self.start - timedelta(days=30))
        if plan.stage == "completed":
            approved("completion_acceptance", self.completion - timedelta(days=25))
        if plan.stage == PRELIMINARY and not self.stalled and "permit_overdue" not in self.troubles:
            # under way, well within its limit
            limit = STATUTORY_DAYS["energy_review"]
            self._permit(
                "energy_review",
                self.city.workdays_back(rng.randint(3, limit - 6)),
                decided_after=None,
            )
        factor = float(city.thresholds.permit_red_factor)
        if "permit_overdue" in self.troubles:
            item = "planning_permit"
            limit = STATUTORY_DAYS[item]
            used = limit + max(1, (int(factor * limit) - limit) // 2)
            self._permit(item, city.workdays_back(used), decided_after=None)
        if "permit_very_overdue" in self.troubles:
            item = "planning_permit"
            limit = STATUTORY_DAYS[item]
            self._permit(item, city.workdays_back(int(factor * limit) + 4), decided_after=None)
        if "permit_overdue_holiday" in self.troubles:
            self._holiday_permit(factor)

    def _holiday_permit(self, factor: float) -> None:
        """A planning permit submitted the working day before the last National Day holiday,
        with a limit it is past in working days but not by the red factor; when that holiday
        is too far back for such a limit, one a few working days overdue."""
        city, today = self.city, self.city.today
        year = today.year if today >= date(today.year, 10, 9) else today.year - 1
        submitted = city.workday(date(year, 9, 30))
        used = city.calendar.workdays_between(submitted, today)
        for limit in (20, 30, 45, 60):
            if limit < used <= int(factor * limit):
                self._permit("planning_permit", submitted, decided_after=None, statutory=limit)
                return
        self._permit("planning_permit", city.workdays_back(24), decided_after=None)

    def _funding(self) -> None:
        """Last year's allocation, and this year's against this year's plan (a little over
        half of it when funding is short); this year's first line's disbursements are kept up
        to date (see ``_touch``)."""
        city, rng, plan, today = self.city, self.rng, self.plan, self.city.today
        self.this_year_lines: list[tuple[str, dict[str, Any], date]] = []
        if plan.stage == "reserve":
            return
        share = 0.04 if plan.stage == PRELIMINARY else 0.2
        for year in (today.year - 1, today.year):
            self.plans[year] = float(
                round(plan.total_investment * share * rng.uniform(0.7, 1.3), -1)
            )
        sources = (
            ["special_bond", "local_budget"]
            if plan.category in (INFRA, PUBLIC)
            else ["local_budget", "central_budget"]
        )
        last_year = today.year - 1
        allocated_on = city.workday(date(last_year, 3, 1) + timedelta(days=rng.randint(0, 60)))
        if allocated_on > self.registered:
            allocated = _money(self.plans[last_year] * rng.uniform(0.9, 1.05))
            key = f"杭财建〔{last_year}〕{city.number('finance' + str(last_year))}号"
            data = self._funding_line(key, sources[0], last_year, allocated)
            city.write(allocated_on, "finance", "funding", key, data)
            settled = city.before_today(city.workday(date(last_year, 12, 20)))
            if settled > allocated_on and not self.stalled or settled < city.days_ago(self.idle):
                disbursed = _money(allocated * rng.uniform(0.85, 1.0))
                city.write(settled, "finance", "funding", key, {**data, "disbursed": disbursed})
        ratio = 0.55 if "funding_short" in self.troubles else rng.uniform(0.86, 1.08)
        total = self.plans[today.year] * ratio
        lines = 1 if plan.stage == PRELIMINARY or total < 30000 else 2
        for index in range(lines):
            amount = _money(total / lines)
            allocated_on = date(today.year, 2, 20) + timedelta(days=index * rng.randint(10, 30))
            allocated_on = max(allocated_on, self.registered + timedelta(days=20 + 10 * index))
            allocated_on = min(allocated_on, today - timedelta(days=3 + index))
            if self.stalled:
                allocated_on = min(allocated_on, city.days_ago(self.idle + 3))
            allocated_on = city.workday(allocated_on)
            if allocated_on.year != today.year or allocated_on <= self.registered:
                continue
            key = f"杭财建〔{today.year}〕{city.number('finance' + str(today.year))}号"
            data = self._funding_line(key, sources[index % len(sources)], today.year, amount)
            city.write(allocated_on, "finance", "funding", key, data)
            self.this_year_lines.append((key, data, allocated_on))

    def _funding_line(self, key: str, source: str, year: int, allocated: float) -> dict[str, Any]:
        rng = self.rng
        account = " ".join(f"{rng.randint(0, 9999):04d}" for _ in range(3))
        return {
            "project_code": self.code,
            "source": source,
            "fiscal_year": year,
            "allocated": allocated,
            "disbursed": 0,
            "approval_doc": key,
            "bank_account": f"3301 0400 {account}",
        }

    def _rate(self, year: int, period_end: date) -> float:
        """This year's investment as a share of the year's plan at the end of a month."""
        share = float(year_share(period_end))
        if year == self.city.today.year:
            if "investment_far_behind" in self.troubles:
                return max(0.0, share - 0.40)
            if "investment_behind" in self.troubles:
                return max(0.0, share - 0.20)
        return min(1.0, share * self.pace)

    def _reports(self) -> None:
        """A report for every month of this year (and at least the last three) from the month
        the project was registered to its completion, each sent on the project's usual working
        day of the next month, if that is before today."""
        city, rng, today = self.city, self.rng, self.city.today
        self.pace = rng.uniform(0.96, 1.12)
        weekday = rng.randint(1, 4)
        year, month = (today.year, 1) if today.month > 3 else _shift(today, -3)
        first = (self.registered.year, self.registered.month)
        if (year, month) < first:
            year, month = first
        last = _shift(today, -1)
        done = [
            m["actual_date"]
            for m in self.current
            if m["kind"] == "completion" and m.get("actual_date")
        ]
        if done:
            completed = date.fromisoformat(done[0])
            last = min(last, (completed.year, completed.month))
        before_this_year = self._invested_before(today.year)
        while (year, month) <= last:
            period = f"{year:04d}-{month:02d}"
            sent = city.calendar.nth_workday_of_month(*_next_month(year, month), weekday)
            skipped = (
                sent >= today
                or ("report_missing" in self.troubles and (year, month) == last)
                or (self.stalled and sent > city.days_ago(self.idle))
            )
            if not skipped and year in self.plans:
                end = date(*_next_month(year, month), 1) - timedelta(days=1)
                plan_of_year = self.plans[year]
                invested = _money(plan_of_year * self._rate(year, end))
                before = before_this_year if year == today.year else self._invested_before(year)
                city.write(
                    sent,
                    "ndrc",
                    "progress_report",
                    f"{self.code}:{period}",
                    {
                        "project_code": self.code,
                        "period": period,
                        "annual_plan": plan_of_year,
                        "invested_this_year": invested,
                        "invested_to_date": _money(before + invested),
                        "progress_note": self._note(month, invested),
                        "next_steps": self._next_steps(),
                        "problems": self._problems((year, month)),
                    },
                )
            year, month = _next_month(year, month)

    def _invested_before(self, year: int) -> float:
        """What the project invested before ``year``: its plan for each earlier year of work."""
        if self.plan.stage == PRELIMINARY:
            return _money(self.plan.total_investment * 0.01)
        years = max(0, year - self.start.year)
        return _money(
            min(self.plan.total_investment * 0.8, years * self.plans[self.city.today.year])
        )

    def _note(self, month: int, invested: float) -> str:
        if self.stage_now != PRELIMINARY:
            node = next((m["name"] for m in self.current if m["status"] != "done"), "竣工验收")
            return f"1-{month}月累计完成投资{invested:g}万元；施工有序推进，正在实施“{node}”节点。"
        return f"1-{month}月累计完成投资{invested:g}万元；前期手续办理中。"

    def _next_steps(self) -> str:
        if self.stage_now != PRELIMINARY:
            return "加快关键线路施工，确保下一节点按期完成。"
        return "加快推进前期审批及要素保障，力争按期开工。"

    def _problems(self, month: tuple[int, int]) -> str | None:
        """What a report says is wrong: investment and funding all year, a late node once it
        is near (the last three months)."""
        recent = month >= _shift(self.city.today, -3)
        for trouble, text in PROBLEMS.items():
            if trouble in self.troubles and (recent or not trouble.startswith("milestone")):
                return text
        return None

    def _items(self) -> None:
        """The joint meeting's items about this project: raised at a meeting, taken up,
        resolved (on time, or a day late), or not yet."""
        city, rng, plan, today = self.city, self.rng, self.plan, self.city.today
        kinds = [t.removeprefix("item_") for t in plan.troubles if t.startswith("item_")]
        if not kinds or plan.name not in ITEMS:
            return
        title, factor, raised_by, assigned, notes = ITEMS[plan.name]
        kind = kinds[0]
        raised_ago, due_in = {
            "overdue": (rng.randint(40, 60), -rng.randint(8, 15)),
            "open": (rng.randint(8, 20), rng.randint(10, 25)),
            "in_progress": (rng.randint(20, 35), rng.randint(5, 20)),
            "escalated": (rng.randint(25, 40), rng.randint(5, 15)),
            "resolved": (rng.randint(70, 120), -rng.randint(40, 60)),
            "resolved_late": (rng.randint(60, 90), -rng.randint(25, 35)),
        }[kind]
        raised = city.workday(city.days_ago(raised_ago))
        due = today + timedelta(days=due_in)
        key = f"LX{raised.year}-{raised.month:02d}-{city.number(f'item{raised:%Y%m}', 0):02d}"
        data: dict[str, Any] = {
            "project_code": self.code,
            "title": title,
            "factor": factor,
            "raised_at": raised.isoformat(),
            "meeting": f"{raised.year}年第{raised.month}次重大项目联席会议",
            "raised_by": raised_by,
            "assigned_to": assigned,
            "due_date": due.isoformat(),
            "status": "open",
        }
        if notes:
            data["notes"] = notes
        city.write(raised, "office", "coordination_item", key, data)
        if kind == "open":
            return
        taken_up = city.before_today(city.calendar.add_workdays(raised, rng.randint(2, 5)))
        status = "escalated" if kind == "escalated" else "in_progress"
        data["status"] = status
        city.write(taken_up, "office", "coordination_item", key, data)
        if kind.startswith("resolved"):
            resolved = (
                due + timedelta(days=1)
                if kind == "resolved_late"
                else (due - timedelta(days=rng.randint(2, 8)))
            )
            resolved = max(resolved, taken_up + timedelta(days=1))
            data.update(
                status="resolved", resolution=RESOLUTIONS[factor], resolved_at=resolved.isoformat()
            )
            city.write(resolved, "office", "coordination_item", key, data)

    def _touch(self) -> None:
        """A recent change: the finance bureau's latest disbursement on this year's first line,
        or (before this year has a line) the project's visual progress noted."""
        city, rng, today = self.city, self.rng, self.city.today
        day = city.workday(city.days_ago(rng.randint(1, 10)))
        lines = [line for line in self.this_year_lines if line[2] < day]
        if lines:
            key, data, _ = lines[0]
            share = float(year_share(today)) * rng.uniform(0.75, 1.0)
            disbursed = _money(min(data["allocated"] * 0.95, data["allocated"] * share))
            disbursed = max(disbursed, 1.0)
            city.write(day, "finance", "funding", key, {**data, "disbursed": disbursed})
            return
        data = self._data(self.current, self.stage_now)
        data["description"] += f"形象进度：已于{day.month}月{day.day}日更新。"
        city.write(day, "ndrc", "project", self.code, data)


def _shift(day: date, months: int) -> tuple[int, int]:
    """The (year, month) ``months`` from ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return index // 12, index % 12 + 1
