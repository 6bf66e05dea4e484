"""The Chinese words of the domain's codes: statuses, figures, actions, kinds, refusals and the reminder SMS.

The domain (models/) speaks in codes; every console, form, export, API answer and CLI command
words them from these tables, in the manual's words (templates reach this module as `labels`).
A new status, figure, action or refusal code is one line here (tests/test_labels.py fails while
one is missing, and on Chinese text left in a model).
"""

from models import aefi, certificates, lots, observation, options, org
from models import status as s
from models import user as users
from models.errors import DomainError, FieldError, plain_text, use_wording
from models.reminders import ReminderWords, use_words
from models.stats import FUNNEL_KEYS
from services import card_match

STATUS_LABELS = {
    s.REGISTERED: "未提交",
    s.SUBMITTED: "已提交(待初审)",
    s.DEPT_APPROVED: "初审通过(审核中)",
    s.CENTER_APPROVED: "已审批(待分配)",
    s.ALLOCATED: "已分配",
    s.APPOINTED: "已预约",
    s.CHECKED_IN: "已登记",
    s.VACCINATED: "已接种",
    s.NOT_VACCINATED: "未接种",
    s.DUE_NEXT: "待续种",
}

# Dashboard figures (看板), by the key models/stats.py and the consoles count them under.
FIGURE_LABELS = {
    "enterprises": "企业数",
    "declared": "申报人数",
    "submitted": "提交审核",
    "pending": "待初审",
    "approved": "已初审",
    "returned": "退回",
    "allocated": "分配人数",
    "appointed": "预约人数",
    "checked_in": "接种站登记",
    "vaccinated": "完成接种",
}

# The enterprise console words the same figures as the manual's 企业看板 does.
ENTERPRISE_FIGURE_LABELS = {
    "declared": "申报总人数",
    "submitted": "已提交审核人数",
    "allocated": "已分配人数",
    "vaccinated": "已完成接种人数",
}

FUNNEL = FUNNEL_KEYS

GENDER_LABELS = {"M": "男", "F": "女"}

# AEFI reports (models/aefi.py): severity and the report's state.
AEFI_SEVERITY_LABELS = {aefi.GENERAL: "一般", aefi.SERIOUS: "严重"}
AEFI_STATE_LABELS = {aefi.REPORTED: "已报告", aefi.INVESTIGATING: "调查中", aefi.CLOSED: "已结案"}

# How an observation (留观, models/observation.py) ended.
OBSERVATION_OUTCOME_LABELS = {observation.COMPLETED: "留观结束", observation.LEFT_EARLY: "提前离开",
                              observation.REACTION: "异常反应"}

# The two dimensions of the review departments (models/org.py DIMENSIONS).
DIMENSION_LABELS = {org.INDUSTRY: "行业", org.TERRITORY: "属地"}

# The consoles (models/user.py ROLES), as the portal, the login and the account screens name them.
ROLE_LABELS = {
    users.ENTERPRISE: "企业端",
    users.REVIEW: "审核部门端",
    users.CENTER: "防控中心端",
    users.STATION: "接种站端",
    users.ADMIN: "系统管理",
}

# The card a reader read (models/reader.py CARD_TYPES).
CARD_TYPE_LABELS = {"resident_id": "居民身份证", "residence_permit": "港澳台居民居住证"}

# Doses counted by the database (models/dose_counts.py KINDS), as the dashboards head them.
DOSE_KIND_LABELS = {"dose1": "第1剂", "dose2": "第2剂", "dose3": "第3剂", "complete": "全程接种", "booster": "加强"}

# The option lists an admin edits (models/options.py).
OPTION_KIND_LABELS = {options.PERSON_CATEGORY: "人员类别", options.NOT_VACCINATED_REASON: "未接种原因",
                      options.AEFI_SYMPTOM: "异常反应症状"}

# A certificate check (models/certificates.Verdict): its result and why.
CERTIFICATE_RESULT_LABELS = {certificates.VALID_RESULT: "有效", certificates.INVALID_RESULT: "无效",
                             certificates.REVOKED_RESULT: "已撤销"}
CERTIFICATE_REASONS = {
    "not_a_certificate": "不是本系统的接种凭证二维码",
    "key_retired": "签发密钥已失效（已过期或已被移除），该凭证不再有效",
    "signature_invalid": "签名校验失败：凭证内容被改动或并非本系统签发",
    "not_registered": "凭证未在本系统登记",
    "standing": "签名有效，凭证未被撤销",
    "superseded": "已被更新的接种凭证取代",
    "dose_corrected": "接种记录已更正或作废",
}

# Stock ledger movements (models/lots.py MOVEMENT_KINDS).
MOVEMENT_LABELS = {
    lots.RECEIVE: "入库", lots.GIVE: "接种", lots.WASTE: "报损", lots.TRANSFER_OUT: "调出",
    lots.TRANSFER_IN: "调入", lots.ADJUST: "盘点调整",
}


def figure_labels(keys, labels=None):
    """(key, label) pairs of dashboard figures, in the order given."""
    wording = {**FIGURE_LABELS, **(labels or {})}
    return tuple((key, wording[key]) for key in keys)


# Workflow transitions (models/workflow.TRANSITIONS), as buttons and the audit log name them.
TRANSITION_LABELS = {
    "submit": "提交",
    "dept_approve": "初审通过",
    "dept_return": "退回企业",
    "center_approve": "复审通过",
    "center_return": "退回审核部门",
    "allocate": "分配",
    "cancel_allocation": "取消分配",
    "appoint": "预约",
    "reschedule": "修改预约",
    "cancel_appointment": "取消预约",
    "check_in": "登记",
    "vaccinate": "确认接种",
    "mark_not_vaccinated": "未接种",
    "open_booster": "开放加强针",
    "take_up_reservation": "按预留时段预约下一剂",
}

# The codes of the domain's refusals (models/errors.py DomainError and FieldError), by area, and what
# the user reads; {name} from the refusal's params. First the WorkflowError codes (models/workflow.py).
ERROR_MESSAGES = {
    "unknown_action": "未知操作：{action}",
    "not_allowed": "当前账号无权执行此操作",
    "reason_required": "请填写原因",
    "station_required": "请选择接种站",
    "station_inactive": "该接种站已停用",
    "slot_required": "请选择预约时段",
    "nobody_chosen": "请选择人员",
    "columns_not_allowed": "不允许修改的字段：{columns}",
    "override_check_in_only": "只有登记可由主管批准提前",
    "override_needs_supervisor": "须由本站主管账号批准",
    "override_reason_required": "请填写提前接种的原因",
    # BookingError codes (models/appointments.py): booking, windows and capacity.
    "amount_required": "请填写预约人数（至少 1 人）",
    "slot_over": "请选择本站尚未结束的预约时段",
    "cancel_reason_required": "请填写取消原因",
    "range_reversed": "结束日期不能早于开始日期",
    "range_too_long": "日期范围不能超过 {days} 天",
    "windows_required": "请填写每日时段，例如 08:30-10:00,10:00-11:30",
    "window_reversed": "结束时间须晚于开始时间",
    "windows_overlap": "同一天的时段不能重叠",
    "slot_capacity_required": "请填写每个时段的容量（1 至 {most} 人）",
    "capacity_required": "请填写容量",
    "capacity_out_of_range": "容量须在 0 至 {most} 之间",
    "capacity_below_booked": "容量不能小于已预约人数（该时段已预约 {booked} 人）。如需减少，请先取消部分预约。",
    "slot_has_bookings": "该时段已有预约，不能删除。请先取消本时段预约。",
    # StockError codes (models/lots.py, models/recall.py): stock, trace codes, freezing, 日结.
    "stock_not_allowed": "无权操作该接种点的库存",
    "trace_code_length": "追溯码应为{length}位数字（收到{got}位）",
    "listed_trace_code_length": "追溯码 {code}：追溯码应为{length}位数字（收到{got}位）",
    "trace_code_unknown": "追溯码 {code} 未入库登记，请核对疫苗包装",
    "trace_codes_repeated": "追溯码清单中有重复的码",
    "package_count_range": "包装数量应为 1 到 {most}",
    "trace_code_run_too_long": "追溯码连号超出{length}位",
    "lot_not_found": "该批号不存在",
    "lot_frozen": "批号 {lot} 已冻结（{reason}），不能使用",
    "lot_recalled": "批号 {lot} 已冻结（召回），不能使用",
    "lot_expired": "批号 {lot} 已于 {expiry:%Y-%m-%d} 过期，不能使用",
    "stock_short": "批号 {lot} 本站库存不足（现有 {on_hand} 剂，需要 {count} 剂）",
    "count_not_positive": "数量应为正整数",
    "waste_count_not_positive": "报损数量应为正整数",
    "transfer_count_not_positive": "调拨数量应为正整数",
    "doses_per_package_not_positive": "每包装剂次数应为正整数",
    "package_count_not_positive": "包装数量应为正整数",
    "vaccination_record_missing": "未找到本次接种记录，未扣减库存",
    "lot_other_product": "批号 {lot} 是{product}，与本次接种的疫苗品种不一致",
    "waste_reason_required": "请选择报损原因：{reasons}",
    "waste_note_too_long": "报损说明最多{most}字",
    "transfer_same_station": "调出和调入接种点不能相同",
    "transfer_target_inactive": "调入接种点不存在或已停用",
    "temperature_required": "请填写到货温度（℃），例如 5.2",
    "temperature_implausible": "到货温度不在合理范围内，请核对",
    "lot_number_required": "请填写批号（{most}字以内）",
    "manufacturer_required": "请填写生产企业（{most}字以内）",
    "expiry_required": "请填写有效期至（日期）",
    "receive_expired": "该批号已于 {expiry:%Y-%m-%d} 过期，不能入库",
    "too_many_packages": "一次入库最多 {most} 个包装",
    "cold_chain_broken": "到货温度 {temperature}℃ 超出冷链范围（{low}–{high}℃），应拒收并报告",
    "trace_code_count_mismatch": "追溯码数量（{codes}）与包装数量（{packages}）不一致",
    "product_required": "请选择疫苗品种",
    "lot_differs": "批号 {lot} 已登记，有效期至 {expiry:%Y-%m-%d}、每包装 {doses} 剂，与本次填写不一致，请核对",
    "receive_frozen": "批号 {lot} 已冻结，不能入库",
    "trace_codes_taken": "追溯码已登记过，不能重复入库：{codes}",
    "freeze_center_only": "只有防控中心可以冻结批号",
    "freeze_reason_required": "请填写冻结原因（{most}字以内）",
    "lot_missing_or_frozen": "该批号不存在或已冻结",
    "unfreeze_center_only": "只有防控中心可以解除冻结",
    "unfreeze_reason_required": "请填写解除冻结的原因（{most}字以内）",
    "lot_missing_or_not_frozen": "该批号不存在或未冻结",
    "close_own_station_only": "日结须由本接种点账号签认",
    "close_future_day": "不能日结未来的日期",
    "close_nothing": "该日没有库存和出入库记录，无需日结",
    "close_done": "该日已日结",
    "count_required": "请填写批号 {lot} 的实盘数量（剂）",
    "variance_unexplained": "批号 {lot} 实盘 {counted} 剂与账面 {book} 剂不符，请填写差异说明",
    "explanation_too_long": "差异说明最多{most}字",
    "count_below_later_issues": "实盘数量少于已发生的后续出库，请先核对后续记录",
    "recall_center_only": "只有防控中心可以查看召回名单",
    "sms_body_required": "请填写短信内容（{most}字以内）",
    # AefiError codes (models/aefi.py).
    "aefi_station_only": "异常反应由接种站上报",
    "aefi_vaccination_not_found": "未找到本站的这条接种记录",
    "aefi_symptom_unlisted": "症状须从列表中选择，其他症状请填写在症状描述中",
    "symptoms_text_too_long": "症状描述最多{most}字",
    "aefi_symptom_required": "请选择至少一个症状或填写症状描述",
    "aefi_severity_required": "请选择严重程度：一般或严重",
    "aefi_outcome_required": "请选择转归",
    "aefi_onset_required": "请填写发生时间（不能晚于现在）",
    "aefi_onset_before_dose": "发生时间不能早于接种时间",
    "aefi_discovery_out_of_range": "发现时间应在发生时间与现在之间",
    "treatment_too_long": "处置情况最多{most}字",
    "aefi_center_only": "只有防控中心可以处理异常反应报告",
    "aefi_classification_required": "请选择反应分类",
    "conclusion_too_long": "调查结论最多{most}字",
    "aefi_state_changed": "该报告不在“{state}”状态（可能已被处理）",
    # ObservationError codes (models/observation.py).
    "observation_station_only": "只有接种站可以结束留观",
    "observation_outcome_unknown": "未知的留观结果",
    "left_early_reason_required": "提前离开须填写原因",
    "observation_reason_too_long": "原因最多{most}字",
    "observation_not_open": "该人员不在本站留观中（可能已被其他工作人员处理）",
    # FieldError codes of the identifier checks (models/identity.py).
    "id_number_shape": "身份证号应为18位：17位数字加1位数字或X",
    "id_number_region": "身份证号的地区码不正确：前6位不是任何年份的行政区划代码",
    "id_number_birth_date_invalid": "身份证号中的出生日期不存在",
    "id_number_birth_date_future": "身份证号中的出生日期晚于今天",
    "id_number_check_digit": "身份证号校验位不正确，请核对",
    "credit_code_length": "统一社会信用代码应为18位",
    "credit_code_characters": "统一社会信用代码含有不允许的字符：{characters}（不使用 I、O、Z、S、V）",
    "credit_code_region": "统一社会信用代码第3至8位（登记机关行政区划码）应为数字",
    "credit_code_check_digit": "统一社会信用代码校验位不正确，请核对",
    "phone_invalid": "请输入正确的11位手机号",
    # FieldError codes of one person's data (models/persons.py): the form, the console edit, the import.
    "id_number_taken": "该身份证号已登记，请勿重复填报；如需修改信息，请联系本单位管理员",
    "id_number_lost_digits": "被 Excel 存成了数字，末几位已丢失；请把该列设为“文本”格式后重新填写",
    "id_number_repeated_row": "与第{row}行重复",
    "category_required": "请选择人员类别",
    "category_unlisted": "人员类别不在可选范围内：{categories}",
    "name_required": "请填写姓名",
    "name_invisible_characters": "姓名含有不可见或控制方向的字符，请重新输入",
    "id_number_required": "请填写身份证号",
    "phone_required": "请填写手机号",
    "lives_in_binhai_required": "请选择是否住在滨海新区",
    "community_required": "请填写现居住小区",
    "too_long": "最多{most}个字",
    "id_number_too_old": "按身份证号年龄为{age}岁，超过{most}岁，请核对出生日期",
    "gender_unreadable": "性别请填写男或女",
    "gender_differs": "性别与身份证号不符（按身份证号应为{gender}）",
    "age_not_a_number": "年龄请填写数字",
    "age_differs": "年龄与身份证号不符（按身份证号应为{age}岁）",
    # FieldError codes of the SMS verification codes (models/verification_codes.py).
    "code_requested_too_often": "获取验证码过于频繁，请1分钟后再试",
    "code_daily_cap": "该手机号今日获取验证码次数已达上限，请明天再试",
    "code_expired": "验证码已过期，请重新获取",
    "code_spent": "验证码已失效，请重新获取",
    "code_too_many_tries": "验证码错误次数过多，已失效，请重新获取",
    "code_wrong": "验证码错误，还可尝试{left}次",
    # Password policy (models/passwords.py, FieldError) and accounts (models/accounts.py, AccountError).
    "password_too_short": "密码至少{least}位",
    "password_too_long": "密码最多{most}位",
    "password_letters_and_digits": "密码须同时包含字母和数字",
    "password_guessable": "密码太容易被猜到（常见密码、键盘序列或含账号、手机号），请换一个更长、更少见的密码",
    "role_unknown": "未知角色：{role}",
    "username_required": "请填写账号",
    "account_enterprise_required": "企业端账号须指定企业（统一社会信用代码）",
    "account_department_required": "审核部门端账号须选择审核部门",
    "account_station_required": "接种站端账号须选择接种站",
    "username_taken": "账号“{username}”已存在",
    # VaccineError (models/vaccines.py).
    "product_unknown": "所选疫苗品种不存在",
    # CertificateError (models/certificates.py).
    "no_certifiable_dose": "暂无可出具凭证的接种记录（接种完成并在接种台签名确认后可查看）",
}


# What a person sees when their ID number is registered already (the form, the edit, the import).
DUPLICATE_ID_MESSAGE = ERROR_MESSAGES["id_number_taken"]


def result_text(result):
    """What a batch transition did, as every console reports it."""
    return f"已处理 {result.changed} 人，跳过 {result.skipped} 人（状态已变化或无权限）"


def status_label(status):
    return STATUS_LABELS.get(status, status)


def field_messages(errors):
    """{field: message} of a {field: FieldError} (a message already worded passes as it is)."""
    return {key: error_text(problem) for key, problem in errors.items()}


def dose_label(dose_number, is_booster=False):
    """第1剂, 第2剂, … or 加强."""
    return "加强" if is_booster else f"第{dose_number}剂"


# The desk's verdicts (services/card_match.py): the panel's heading, and the detail line by its code.
VERDICT_LABELS = {
    card_match.APPOINTED_HERE: "本站已预约", card_match.WRONG_WINDOW: "时段不符",
    card_match.OTHER_STATION: "另有预约", card_match.NOT_THIS_STATION: "非本站",
    card_match.NOT_APPOINTED: "未预约/未分配", card_match.UNKNOWN: "未登记",
    card_match.ALREADY_VACCINATED: "已接种", card_match.ALREADY_CHECKED_IN: "已登记，候诊中",
    card_match.TOO_EARLY: "间隔不足",
}
VERDICT_DETAILS = {
    "no_declaration": "系统中没有此身份证号的申报记录",
    "other_station": "另有预约：{station}，{window}",
    "not_this_station": "非本站人员，请到{station}",
    "vaccinated_here_at": "已于{at:%Y-%m-%d %H:%M}在本站完成接种",
    "vaccinated_here": "已在本站完成接种",
    "vaccinated_at_station": "已在{station}完成接种",
    "vaccinated_elsewhere": "已在其他接种站完成接种",
    "checked_in_at": "已于{at:%H:%M}登记，正在候诊",
    "checked_in": "已登记，正在候诊",
    "too_early": "{dose}最早可于 {earliest:%Y-%m-%d} 接种，今日间隔不足",
    "due_next_from": "待续种：{dose}{earliest:%Y-%m-%d} 起可接种，尚未预约",
    "due_next": "待续种：{dose}可接种，尚未预约",
    "appointed_now": "预约时间 {window}",
    "appointed_other_window": "预约时间为 {window}，不是当前时段",
    "not_vaccinated_because": "上次未接种（{reason}），需重新预约",
    "not_vaccinated_no_reason": "上次未接种（未注明原因），需重新预约",
    "not_vaccinated": "上次未接种，需重新预约",
    "allocated_here": "已分配至本站，尚未预约",
    "not_allocated": "尚未分配接种站",
}


def verdict_detail(match):
    """The detail line of a card read's verdict (services.card_match.CardMatch), with the status it names."""
    params = dict(match.detail_params)
    if "dose_number" in params:
        params["dose"] = dose_label(params.pop("dose_number"), params.pop("booster"))
    detail = VERDICT_DETAILS[match.detail].format(**params)
    if match.status_shown:
        return f"当前状态：{status_label(match.status_shown)}，{detail}"
    return detail


# Params that are codes themselves, worded with their table before they go into the message.
ERROR_PARAM_LABELS = {"aefi_state_changed": {"state": AEFI_STATE_LABELS}, "gender_differs": {"gender": GENDER_LABELS}}


def _worded(value):
    """A param as the message shows it: a list or set of values one after another, with 、."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return "、".join(str(item) for item in value)
    return value


def error_text(error):
    """The Chinese message of a domain refusal (DomainError, FieldError): worded from its code and params.

    A refusal raised with its own (already Chinese) words as the code - the views' own
    StockError("请选择批号") - is shown as it is; no refusal (None) has no words (None).
    """
    if error is None:
        return None
    code = getattr(error, "code", None)
    if code in ERROR_MESSAGES:
        coded = ERROR_PARAM_LABELS.get(code, {})
        params = {key: _worded(coded[key].get(value, value) if key in coded else value)
                  for key, value in getattr(error, "params", {}).items()}
        return ERROR_MESSAGES[code].format(**params)
    if isinstance(error, (DomainError, FieldError)):
        return plain_text(error)
    return str(error)


use_wording(error_text)


# The appointment reminder SMS (models/reminders.py), put together in SQL around the window and station:
# 【滨海新区疫苗接种】温馨提醒：您已预约12月02日 09:00-10:00在某接种站接种，请携带身份证按时前往。
REMINDER_WORDS = ReminderWords(before="【滨海新区疫苗接种】温馨提醒：您已预约", at_station="在",
                               after="接种，请携带身份证按时前往。", month="月", day="日")
use_words(REMINDER_WORDS)

# How a person acting on their own record (我的接种) appears in the audit log.
SELF_ACTOR_NAME = "本人"


def reservation_message(reservations):
    """What the dose-2 reservations of a dose-1 booking did, for the operator."""
    if not reservations.wanted:
        return ""
    text = f"已为其中 {reservations.reserved} 人同时预留第2剂时段（本站、接种间隔之内）"
    if reservations.unreserved:
        text += (f"；另有 {reservations.unreserved} 人未能预留第2剂：本站第2剂接种间隔之内的时段名额不足。"
                 "请增加相应日期的时段或容量；这些人员完成第1剂后将列入“待续种”，届时再预约第2剂")
    return text + "。"


def window_cancellation_message(outcome):
    """What cancelling windows did, the dose-2 places held in them included."""
    skipped = max(outcome.requested - outcome.cancelled, 0)
    text = f"已取消预约 {outcome.cancelled} 人，跳过 {skipped} 人（状态已变化或无权限）"
    if outcome.moved or outcome.lost:
        text += (f"；另有 {outcome.moved + outcome.lost} 人在所取消时段预留了第2剂："
                 f"{outcome.moved} 人已改到接种间隔内的其他时段，"
                 f"{outcome.lost} 人无其他空余时段、预留已取消，均已短信通知")
    return text
