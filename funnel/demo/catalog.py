"""Reference data for demo leads: channels, regions, industries, demo users and what reps write."""

from __future__ import annotations

from dataclasses import dataclass

# Published (README, `demo` output, the sign-in page's hint): every demo account signs in with it while
# the settings allow demo data. Named here, away from Faker, so that pages can name it without loading
# the demo generator; it lives with sign-in, which refuses it once demo data is switched off.
from funnel.accounts.passwords import DEMO_PASSWORD

__all__ = ["DEMO_PASSWORD"]


@dataclass(frozen=True)
class Channel:
    name: str
    weight: int
    # Multiplier on a lead's overall odds of winning; spread wide so a manager sees real differences.
    lift: float


@dataclass(frozen=True)
class Industry:
    name: str
    weight: int
    amount_factor: float
    company_suffixes: tuple[str, ...]
    use_cases: tuple[str, ...]


@dataclass(frozen=True)
class DemoUserSpec:
    username: str
    role: str
    region: str | None = None
    industry: str | None = None
    team: str | None = None


CHANNELS = (
    Channel("官网", 16, 1.3),
    Channel("公众号", 14, 1.0),
    Channel("直播", 12, 0.8),
    Channel("小红书", 12, 0.6),
    Channel("展会", 10, 1.4),
    Channel("转介绍", 8, 2.6),
    Channel("广告投放", 28, 0.4),
)

# Region -> (share weight, cities); company names use a city of the lead's region.
REGIONS: dict[str, tuple[int, tuple[str, ...]]] = {
    "华东": (30, ("上海", "杭州", "南京", "苏州", "宁波", "合肥", "济南", "青岛", "福州", "厦门")),
    "华南": (20, ("广州", "深圳", "东莞", "佛山", "南宁", "海口")),
    "华北": (18, ("北京", "天津", "石家庄", "太原", "呼和浩特")),
    "西南": (10, ("成都", "重庆", "昆明", "贵阳")),
    "华中": (10, ("武汉", "长沙", "郑州", "南昌")),
    "西北": (6, ("西安", "兰州", "银川", "西宁", "乌鲁木齐")),
    "东北": (6, ("沈阳", "大连", "哈尔滨", "长春")),
}

INDUSTRIES = (
    Industry("制造业", 22, 1.2, ("机械制造有限公司", "电子科技有限公司", "精密工业有限公司"),
             ("生产线设备联网", "经销商订单管理", "售后工单跟踪")),
    Industry("零售", 15, 0.8, ("商贸有限公司", "连锁超市有限公司", "百货有限公司"),
             ("会员营销", "门店数据分析", "导购业绩管理")),
    Industry("教育", 12, 0.7, ("教育科技有限公司", "培训学校", "文化传播有限公司"),
             ("招生线索跟进", "课程续费提醒", "校区业绩看板")),
    Industry("医疗", 10, 1.3, ("医疗器械有限公司", "生物科技有限公司", "健康管理有限公司"),
             ("医院客户拜访管理", "设备装机跟踪", "合规审批流程")),
    Industry("金融", 9, 1.6, ("投资管理有限公司", "融资租赁有限公司", "保险代理有限公司"),
             ("理财客户分层", "合规留痕", "客户经理绩效")),
    Industry("互联网", 14, 1.0, ("网络科技有限公司", "信息技术有限公司", "软件有限公司"),
             ("SaaS 续费管理", "渠道代理商管理", "销售漏斗分析")),
    Industry("物流", 10, 0.9, ("物流有限公司", "供应链管理有限公司", "国际货运代理有限公司"),
             ("运单询价跟进", "大客户合同管理", "司机与车辆调度")),
    Industry("建筑", 8, 1.1, ("建设工程有限公司", "建材有限公司", "装饰工程有限公司"),
             ("项目投标跟踪", "工程款回款管理", "材料采购审批")),
)  # fmt: skip

PRODUCTS = ("软件订阅", "实施服务", "年度框架协议", "定制开发", "设备采购", "培训服务")
COMPETITORS = ("销售易", "纷享销客", "Salesforce", "用友", "金蝶", "HubSpot")
PURCHASE_TIMELINES = ("1个月内", "1-3个月", "3-6个月", "6个月以上")
# Codes of the seeded tag library (funnel.customers.lists_seed), which the demo's tags come from.
TAGS = ("高意向", "大客户", "预算偏低", "重点客户", "续约", "政府项目", "试用中")
# Campaign codes (seeded list) a channel's leads may carry.
CAMPAIGNS = {
    "展会": "2026春季展会",
    "直播": "618直播",
    "公众号": "行业白皮书",
    "转介绍": "老客户推荐计划",
    "广告投放": "搜索广告",
}
# How a channel's leads come in: share left by the prospect on a form, share bulk-imported (rest: a rep).
INTAKE = {
    "官网": (0.8, 0.0), "公众号": (0.6, 0.0), "直播": (0.5, 0.1), "小红书": (0.6, 0.0),
    "展会": (0.1, 0.6), "转介绍": (0.0, 0.0), "广告投放": (0.7, 0.1),
}  # fmt: skip
TITLES_ZH = ("采购经理", "IT主管", "运营经理", "销售总监", "行政主管", "项目经理")
DECISION_TITLES_ZH = ("总经理", "副总裁", "CTO", "财务总监")
TITLES_EN = ("Procurement Manager", "IT Manager", "Operations Manager", "Sales Director")
DECISION_TITLES_EN = ("General Manager", "CEO", "CFO")

# Why leads are lost, by how far they got: early ones go quiet, late ones lose on price or to a competitor.
LOST_REASONS = {
    "early": (("无回应", 40), ("时机不对", 25), ("需求不匹配", 20), ("预算取消", 15)),
    "middle": (("预算取消", 30), ("时机不对", 25), ("需求不匹配", 25), ("选择了竞品", 20)),
    "late": (("价格太高", 40), ("选择了竞品", 35), ("预算取消", 15), ("时机不对", 10)),
}
# What the customer said, as the lost reason's code of the managed list `lost_reason`
# (funnel/customers/lists_seed.py) and, for `other`, the note the list asks for.
LOST_REASON_CODES: dict[str, tuple[str, str | None]] = {
    "无回应": ("no_response", None),
    "时机不对": ("timing", None),
    "需求不匹配": ("other", "需求不匹配"),
    "预算取消": ("no_budget", None),
    "选择了竞品": ("competitor", None),
    "价格太高": ("price", None),
    "交付周期太长": ("other", "交付周期太长"),
    "内部审批未通过": ("no_decision", None),
}
# An objection left open at a late stage usually becomes the lost reason.
LOST_REASON_FOR_OBJECTION = {
    "price": "价格太高",
    "competitor": "选择了竞品",
    "delivery": "交付周期太长",
    "internal_process": "内部审批未通过",
    "other": "时机不对",
}

OBJECTIONS = {
    "price": (40, ("报价超出预算 20% 左右", "希望首年费用打折", "对实施费用有异议")),
    "competitor": (20, ("竞品报价更低", "已在试用竞品", "老板更熟悉竞品品牌")),
    "delivery": (15, ("上线周期要求一个月内", "担心数据迁移风险", "需要本地化部署")),
    "internal_process": (15, ("需要集团 IT 审批", "采购流程需走招标", "法务审核合同条款较慢")),
    "other": (10, ("决策人近期出差", "需要更多客户案例", "对售后响应时间有疑虑")),
}

# Activity wording by phase: (kind weights, summaries, next steps).
ACTIVITIES = {
    "early": (
        (("call", 60), ("wechat", 40)),
        ("首次电话沟通，了解基本情况", "微信添加好友并发送产品资料", "电话确认需求方向"),
        ("约线上演示", "发送案例资料", "确认决策人"),
    ),
    "middle": (
        (("meeting", 50), ("call", 30), ("wechat", 20)),
        ("上门拜访，梳理业务流程", "线上会议确认需求和预算", "与使用部门负责人沟通"),
        ("准备方案", "安排产品演示", "确认预算和采购时间"),
    ),
    "late": (
        (("meeting", 45), ("call", 35), ("wechat", 20)),
        ("方案讲解会", "报价沟通", "合同条款确认"),
        ("发送正式报价", "跟进方案反馈", "推动合同签署"),
    ),
}
CONCERNS = ("价格", "实施周期", "数据安全", "与现有系统集成", "售后服务")


def _reps() -> tuple[DemoUserSpec, ...]:
    """Twelve reps: more where there are more leads, each with a focus industry and a team."""
    teams = {"华东": "东区", "华中": "东区", "华南": "南区", "西南": "南区"}
    plan = (
        ("华东", "制造业"), ("华东", "互联网"), ("华东", "零售"), ("华南", "制造业"), ("华南", "物流"),
        ("华北", "金融"), ("华北", "教育"), ("西南", "医疗"), ("华中", "建筑"), ("华中", "零售"),
        ("西北", "物流"), ("东北", "制造业"),
    )  # fmt: skip
    return tuple(
        DemoUserSpec(f"rep{i:02d}", "rep", region, industry, teams.get(region, "北区"))
        for i, (region, industry) in enumerate(plan, start=1)
    )


DEMO_USERS = (
    *_reps(),
    # No team: funnel.access.permissions scopes a manager with a team to that team's reps; this one sees all.
    DemoUserSpec("manager", "manager"),
    DemoUserSpec("boss", "leader"),
    DemoUserSpec("delivery", "delivery", team="交付与财务"),
    DemoUserSpec("admin", "admin"),
)
