"""Notifiers: a signed JSON webhook (HTTP POST, retried with backoff) and e-mail over SMTP.

Both render the same alarm: Chinese first, then English. A notifier's :meth:`send` returns a short
delivery note (stored in the alarm's history) or raises :class:`DeliveryError`; the alarm itself is
already stored when notifiers run, so a failed delivery never loses an alarm.

Webhook signature: ``X-Tianlan-Signature: sha256=<hex>`` where hex is HMAC-SHA256 with the shared
secret (setting ``alarm_webhook_secret``) over ``<X-Tianlan-Timestamp>.<body bytes>``; receivers
check it with :func:`verify_signature` (which also refuses stale timestamps, against replays).

Settings (``TIANLAN_ALARM_*`` in the environment, or fields ``alarm_*`` of the settings object):

================================  ==================  ===============================================
setting                           default             meaning
================================  ==================  ===============================================
alarm_webhook_url                 (none: off)         URL the webhook POSTs to
alarm_webhook_secret              (required w/ URL)   shared secret of the HMAC-SHA256 signature
alarm_webhook_timeout_s           10                  per-attempt timeout (s)
alarm_webhook_retries             3                   retries after the first attempt (5xx, 408, 429,
                                                      connection errors); 4xx is not retried
alarm_webhook_backoff_s           0.5                 first retry delay (s), doubled each time
alarm_smtp_host                   (none: off)         SMTP server
alarm_smtp_port                   25                  SMTP port
alarm_smtp_starttls               false               upgrade with STARTTLS before login and sending
alarm_smtp_user / _password       (none)              SMTP login, after STARTTLS when it is on
alarm_smtp_timeout_s              30                  SMTP timeout (s)
alarm_mail_from                   tianlan@localhost   sender address
alarm_mail_to                     (none)              recipients, comma-separated
================================  ==================  ===============================================
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

import httpx

from tianlan import __version__
from tianlan.alarms.lifecycle import Alarm, state_label
from tianlan.alarms.policy import LEVEL_NAMES, STATION_WIDE
from tianlan.errors import ConfigError, TianlanError
from tianlan.model.timeutil import utc_to_beijing_iso

SIGNATURE_HEADER = "X-Tianlan-Signature"
TIMESTAMP_HEADER = "X-Tianlan-Timestamp"
EVENT_NAMES = {"raised": "新告警", "escalated": "告警升级", "unsilenced": "静默结束", "test": "测试"}


class DeliveryError(TianlanError):
    """A notification could not be delivered (names the channel and the last failure)."""


class Notifier(Protocol):
    name: str

    def send(self, alarm: Alarm, event: str) -> str: ...


@dataclass(frozen=True)
class NotifySettings:
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_timeout_s: float = 10.0
    webhook_retries: int = 3
    webhook_backoff_s: float = 0.5
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_timeout_s: float = 30.0
    mail_from: str = "tianlan@localhost"
    mail_to: str = ""

    @classmethod
    def from_settings(cls, settings: Any = None) -> NotifySettings:
        """Read ``alarm_<field>`` from the settings object, else ``TIANLAN_ALARM_<FIELD>`` from the environment."""
        out: dict[str, Any] = {}
        defaults = cls()
        for f in fields(cls):
            v = getattr(settings, f"alarm_{f.name}", None) if settings is not None else None
            if v is None:
                v = os.environ.get(f"TIANLAN_ALARM_{f.name.upper()}")
            if v is None or v == "":
                continue
            default = getattr(defaults, f.name)
            typ: type = type(default) if default is not None else str
            try:
                if typ is bool:
                    out[f.name] = v if isinstance(v, bool) else str(v).strip().lower() in ("1", "true", "yes", "on")
                elif typ in (int, float):
                    out[f.name] = typ(v)
                else:
                    out[f.name] = str(v)
            except ValueError:
                raise ConfigError(f"alarm_{f.name}: expected {typ.__name__}, got {v!r}") from None
        return cls(**out)

    def notifiers(self) -> list[Notifier]:
        """The notifiers these settings turn on (none when nothing is configured)."""
        out: list[Notifier] = []
        if self.webhook_url:
            if not self.webhook_secret:
                raise ConfigError("alarm_webhook_secret: required when alarm_webhook_url is set (signs every POST)")
            out.append(WebhookNotifier(self.webhook_url, self.webhook_secret, timeout_s=self.webhook_timeout_s,
                                       retries=self.webhook_retries, backoff_s=self.webhook_backoff_s))
        if self.smtp_host:
            to = [a.strip() for a in self.mail_to.split(",") if a.strip()]
            if not to:
                raise ConfigError("alarm_mail_to: required when alarm_smtp_host is set (comma-separated addresses)")
            out.append(EmailNotifier(self.smtp_host, self.smtp_port, sender=self.mail_from, recipients=to,
                                     starttls=self.smtp_starttls, user=self.smtp_user, password=self.smtp_password,
                                     timeout_s=self.smtp_timeout_s))
        return out


# --- rendering ------------------------------------------------------------------------------------


def _param(p: str) -> str:
    if p == STATION_WIDE:
        return "全站 station-wide"
    try:
        from tianlan.model.parameters import default_parameters

        for q in default_parameters():
            if q.code == p:
                return f"{q.name_en or q.name} ({p})"
    except Exception:  # pragma: no cover - the table is optional for rendering
        pass
    return p


def payload(alarm: Alarm, event: str) -> dict[str, Any]:
    """The webhook body: the alarm, its level and period in both UTC seconds and Beijing time,
    and a compact evidence summary (detectors, versions, config hashes, result count)."""
    ev = alarm.evidence or {}
    zh, en = LEVEL_NAMES.get(alarm.level, ("?", "?"))
    return {
        "event": f"alarm.{event}",
        "sent_utc": time.time(),
        "alarm": {
            "id": alarm.id, "station": alarm.station, "parameter": alarm.parameter, "detector": alarm.detector,
            "detectors": alarm.detectors, "level": alarm.level, "level_name": {"zh": zh, "en": en},
            "score": alarm.score, "reason": alarm.reason, "start_utc": alarm.start_utc, "end_utc": alarm.end_utc,
            "start": utc_to_beijing_iso(alarm.start_utc), "end": utc_to_beijing_iso(alarm.end_utc),
            "status": alarm.status, "silenced": alarm.silenced,
            "summary": {"zh": subject_zh(alarm, event), "en": subject_en(alarm, event)},
        },
        "evidence": {
            "detectors": [{k: d.get(k) for k in ("id", "version", "family", "config_hashes")} for d in ev.get("detectors", [])],
            "level": ev.get("level"), "results_total": ev.get("results_total"), "input": ev.get("input"),
        },
    }


def subject_zh(alarm: Alarm, event: str) -> str:
    zh = LEVEL_NAMES.get(alarm.level, ("?", "?"))[0]
    head = f"【天蓝告警·{alarm.level}级{zh}·{EVENT_NAMES.get(event, event)}】"
    return f"{head}站点 {alarm.station} {_param(alarm.parameter)} {alarm.reason}"


def subject_en(alarm: Alarm, event: str) -> str:
    en = LEVEL_NAMES.get(alarm.level, ("?", "?"))[1]
    return f"[Tianlan alarm L{alarm.level} {en}, {event}] station {alarm.station} {_param(alarm.parameter)} {alarm.reason}"


def render_text(alarm: Alarm, event: str) -> str:
    """The e-mail body: Chinese, then English."""
    ev = alarm.evidence or {}
    dets = "; ".join(f"{d.get('id')} v{d.get('version')} config {','.join(d.get('config_hashes') or [])}"
                     for d in ev.get("detectors", []))
    start, end = utc_to_beijing_iso(alarm.start_utc), utc_to_beijing_iso(alarm.end_utc)
    zh, en = LEVEL_NAMES.get(alarm.level, ("?", "?"))
    silenced_zh, silenced_en = ("是", "yes") if alarm.silenced else ("否", "no")
    return "\n".join([
        f"天蓝告警 #{alarm.id}（{EVENT_NAMES.get(event, event)}）",
        f"级别：{alarm.level}级 {zh}",
        f"站点：{alarm.station}    因子：{_param(alarm.parameter)}",
        f"检测器：{alarm.detector}（全部：{', '.join(alarm.detectors)}）    得分：{alarm.score:.3f}",
        f"原因：{alarm.reason}",
        f"数据时段（北京时间）：{start} 至 {end}",
        f"状态：{state_label(alarm.status)}    静默：{silenced_zh}",
        f"证据：{dets}；结果 {ev.get('results_total', 0)} 条。完整证据包：tianlan alarms show {alarm.id}",
        "说明：告警是证据，不是结论；数据有效性由仪器状态、规则和人工审核决定。",
        "",
        f"Tianlan alarm #{alarm.id} ({event})",
        f"Level: L{alarm.level} {en}",
        f"Station: {alarm.station}    Parameter: {_param(alarm.parameter)}",
        f"Detector: {alarm.detector} (all: {', '.join(alarm.detectors)})    Score: {alarm.score:.3f}",
        f"Reason: {alarm.reason}",
        f"Data period (Beijing time): {start} to {end}",
        f"Status: {alarm.status}    Silenced: {silenced_en}",
        f"Evidence: {dets}; {ev.get('results_total', 0)} results. Full bundle: tianlan alarms show {alarm.id}",
        "Note: an alarm is evidence, not a verdict; validity is decided by instrument state, rules and people.",
        "",
    ])


# --- webhook --------------------------------------------------------------------------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``<timestamp>.<body>`` with ``secret``."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, header: str, *, tolerance_s: float = 300.0,
                     now: float | None = None) -> bool:
    """True when ``header`` (``sha256=<hex>``) signs ``body`` at ``timestamp`` and the timestamp is
    within ``tolerance_s`` of now (a replayed old delivery fails)."""
    try:
        ts = float(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance_s:
        return False
    expected = "sha256=" + sign(secret, timestamp, body)
    return hmac.compare_digest(expected, header.strip())


class WebhookNotifier:
    """POSTs the alarm as JSON to ``url``, signed; retries transient failures with exponential backoff."""

    name = "webhook"

    def __init__(self, url: str, secret: str, *, timeout_s: float = 10.0, retries: int = 3, backoff_s: float = 0.5,
                 client: httpx.Client | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        if not secret:
            raise ConfigError("alarm_webhook_secret: required (signs every POST)")
        self.url, self.secret = url, secret
        self.timeout_s, self.retries, self.backoff_s = timeout_s, max(0, retries), backoff_s
        self.client = client
        self.sleep = sleep

    def send(self, alarm: Alarm, event: str) -> str:
        body = json.dumps(payload(alarm, event), ensure_ascii=False, sort_keys=True, allow_nan=False).encode()
        delivery = uuid.uuid4().hex
        client = self.client or httpx.Client(timeout=self.timeout_s)
        last = ""
        try:
            for attempt in range(1, self.retries + 2):
                ts = str(int(time.time()))
                headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": f"tianlan/{__version__}",
                           "X-Tianlan-Event": f"alarm.{event}", "X-Tianlan-Delivery": delivery, TIMESTAMP_HEADER: ts,
                           SIGNATURE_HEADER: "sha256=" + sign(self.secret, ts, body)}
                delay = self.backoff_s * 2 ** (attempt - 1)
                try:
                    r = client.post(self.url, content=body, headers=headers, timeout=self.timeout_s)
                except httpx.TransportError as e:
                    last = f"{type(e).__name__}: {e}"
                else:
                    if 200 <= r.status_code < 300:
                        return f"webhook: HTTP {r.status_code}, attempt {attempt}"
                    last = f"HTTP {r.status_code}"
                    if r.status_code not in (408, 425, 429) and r.status_code < 500:
                        raise DeliveryError(f"webhook {self.url}: {last} (not retried) / 推送被拒绝")
                    after = r.headers.get("Retry-After", "")
                    if after.isdigit():
                        delay = min(max(delay, float(after)), 60.0)
                if attempt <= self.retries:
                    self.sleep(delay)
        finally:
            if self.client is None:
                client.close()
        raise DeliveryError(f"webhook {self.url}: gave up after {self.retries + 1} attempts, last {last} / 推送失败")


# --- e-mail ---------------------------------------------------------------------------------------


def render_email(alarm: Alarm, event: str, sender: str, recipients: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"{subject_zh(alarm, event)} / {subject_en(alarm, event)}"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="tianlan")
    msg["X-Tianlan-Alarm"] = str(alarm.id)
    msg.set_content(render_text(alarm, event), charset="utf-8")
    return msg


class EmailNotifier:
    """Sends the alarm by SMTP (``smtplib``), optionally upgrading with STARTTLS before login."""

    name = "email"

    def __init__(self, host: str, port: int = 25, *, sender: str, recipients: list[str], starttls: bool = False,
                 user: str | None = None, password: str | None = None, timeout_s: float = 30.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.host, self.port = host, port
        self.sender, self.recipients = sender, list(recipients)
        self.starttls, self.user, self.password = starttls, user, password
        self.timeout_s = timeout_s
        self.ssl_context = ssl_context

    def send(self, alarm: Alarm, event: str) -> str:
        msg = render_email(alarm, event, self.sender, self.recipients)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as s:
                s.ehlo()
                if self.starttls:
                    s.starttls(context=self.ssl_context or ssl.create_default_context())
                    s.ehlo()
                if self.user:
                    s.login(self.user, self.password or "")
                refused = s.send_message(msg)
        except (smtplib.SMTPException, OSError) as e:
            raise DeliveryError(f"email via {self.host}:{self.port}: {type(e).__name__}: {e} / 邮件发送失败") from e
        ok = len(self.recipients) - len(refused)
        if ok == 0:
            raise DeliveryError(f"email via {self.host}:{self.port}: every recipient refused / 邮件收件人均被拒绝")
        return f"email: {ok} of {len(self.recipients)} recipient(s)"
