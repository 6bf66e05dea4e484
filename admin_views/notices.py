"""The words of the text messages the consoles send when they book, move or cancel appointments.

The operations in models/appointments.py take these functions as arguments: what a
message says is the UI's business, whom it goes to is the operation's.
"""

from services.qr import public_url

SMS_PREFIX = "【滨海新区疫苗接种】"


def self_service_link():
    """Where the person looks up or cancels their appointment (我的接种)."""
    return f"查询或取消预约：{public_url('self_service.start')}"


def window_text(slot):
    """A window as people read it: 12月2日 08:30-10:00."""
    return f"{slot.starts_at.month}月{slot.starts_at.day}日 {slot.starts_at:%H:%M}-{slot.ends_at:%H:%M}"


def appointment_notice(slot):
    station = slot.station
    return (f"{SMS_PREFIX}您已预约在{station.name}接种疫苗，时间：{window_text(slot)}，"
            f"地址：{station.address}。请携带身份证按时前往。{self_service_link()}")


def change_notice(slot):
    station = slot.station
    return (f"{SMS_PREFIX}您的接种预约已改为：{station.name}，时间：{window_text(slot)}，"
            f"地址：{station.address}。请携带身份证按时前往。{self_service_link()}")


def cancellation_notice(slot, reason):
    return (f"{SMS_PREFIX}您在{slot.station.name}{window_text(slot)}的接种预约已取消，"
            f"原因：{reason}。新的预约时间将另行短信通知。")


def reserved_notice(slot):
    """Added to a dose-1 booking's text when a dose-2 window is held for the person."""
    return f"第2剂已为您预留：{window_text(slot)}（同一接种点），完成第1剂后即为第2剂预约。"


def reservation_notice(slot, reason):
    """A dose-2 window held for the person was cancelled: its replacement (`slot`), or none."""
    if slot is None:
        return (f"{SMS_PREFIX}您预留的第2剂接种时段已取消，原因：{reason}。接种间隔内暂无其他空余时段，"
                f"完成第1剂后将另行短信通知第2剂预约。{self_service_link()}")
    return (f"{SMS_PREFIX}您预留的第2剂接种时段已取消，原因：{reason}。已改为：{slot.station.name}，"
            f"{window_text(slot)}。{self_service_link()}")


def next_dose_appointment_notice(slot):
    """出站确认 of dose 1: the dose-2 window held for the person is now their dose-2 appointment."""
    station = slot.station
    return (f"{SMS_PREFIX}您已完成第1剂接种。预留的第2剂时段已为您预约：{station.name}，时间：{window_text(slot)}，"
            f"地址：{station.address}。请携带身份证按时前往。{self_service_link()}")


def reservation_released_notice(slot, reason):
    """出站确认 gave back the dose-2 window held for the person (`slot`), for `reason`."""
    return (f"{SMS_PREFIX}您在{slot.station.name}{window_text(slot)}预留的第2剂接种时段已取消，原因：{reason}。"
            f"第2剂预约将另行短信通知。{self_service_link()}")


# Why 出站确认 gave a dose-2 place back, in reservation_released_notice.
GIVEN_OUTSIDE_INTERVAL = "实际接种的疫苗品种或日期与该时段的第2剂接种间隔不符"


def not_given_reason(reason):
    return f"本次未接种第1剂（{reason}）"
