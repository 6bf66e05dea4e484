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
