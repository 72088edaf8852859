"""Messages of the pages added after the shared table (``tianlan.web.i18n.MESSAGES``) was written:
the interference record page and the public-station hint of the console. Same form —
``key → (中文, English)`` — added to the shared table when the pages are imported (existing keys
are never replaced), so templates use them through ``_()`` like every other message.
"""

from __future__ import annotations

from tianlan.web import i18n

EXTRA: dict[str, tuple[str, str]] = {
    "itf.record": ("干预留痕记录 #{id}", "Interference record #{id}"),
    "itf.open": ("查阅", "Open"),
    "itf.filed_at": ("填报时间", "Filed at"),
    "itf.officials": ("干预人", "Who interfered"),
    "itf.addenda": ("补充说明", "Addenda"),
    "itf.append": ("追加补充说明", "Append an addendum"),
    "itf.append.text": ("补充内容（提交后不可修改或删除）", "Addendum (cannot be changed or deleted once submitted)"),
    "itf.append.file": ("附件（选填）", "Attachment (optional)"),
    "itf.appended": ("已追加补充说明 #{id}。", "Addendum #{id} appended."),
    "itf.attachments": ("附件", "Attachments"),
    "itf.altered": ("与登记的 SHA-256 不符，已被篡改", "does not match its SHA-256: altered"),
    "itf.reads": ("查阅记录（账本）", "Access log (ledger)"),
    "itf.logged": ("本次查阅已记入账本。", "This read is recorded in the ledger."),
    "con.public_station": ("点位 {code} 不在您的数据范围内。它的公开实时空气质量见门户：",
                           "Station {code} is outside your data scope. Its public real-time air quality is on the portal:"),
    "con.public_view": ("{name}（{city}）公开页面", "{name} ({city}) on the public portal"),
}

for _k, _v in EXTRA.items():
    i18n.MESSAGES.setdefault(_k, _v)
