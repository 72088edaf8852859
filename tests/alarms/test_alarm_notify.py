"""Notifiers against real servers: a local HTTP receiver (webhook) and a local SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from tianlan.alarms.episodes import build_episodes, evidence_bundle
from tianlan.alarms.lifecycle import Alarm
from tianlan.alarms.notify import (
    DeliveryError,
    EmailNotifier,
    NotifySettings,
    WebhookNotifier,
    render_text,
    verify_signature,
)
from tianlan.alarms.service import AlarmService
from tianlan.errors import ConfigError
from tianlan.store.engine import open_store

T0, H = 1546300800, 3600
SECRET = "s3cret-共享"


@pytest.fixture
def alarm(mk) -> Alarm:
    ep = build_episodes([mk("XV-03", hours=3, score=0.93, evidence={"params": {"z": -3}})])[0]
    return Alarm(7, ep.station, ep.parameter, ep.detector, ep.detectors, ep.level, ep.score, ep.reason, ep.start_utc,
                 ep.end_utc, "raised", None, False, evidence_bundle(ep), T0, T0)


def _webhook(url: str, sleeps: list[float], **kw) -> WebhookNotifier:  # type: ignore[no-untyped-def]
    return WebhookNotifier(url, SECRET, sleep=sleeps.append, **kw)


def test_webhook_posts_signed_json(receiver, alarm) -> None:
    note = _webhook(receiver.url, []).send(alarm, "raised")
    assert note == "webhook: HTTP 200, attempt 1"
    (req,) = receiver.requests
    h = req["headers"]
    assert req["path"] == "/hook" and h["content-type"].startswith("application/json")
    assert h["x-tianlan-event"] == "alarm.raised"
    body = json.loads(req["body"])
    a = body["alarm"]
    assert (a["id"], a["station"], a["parameter"], a["detector"], a["level"], a["reason"]) == (
        7, "1001A", "a34004", "XV-03", 3, "mist_signature")
    assert a["start"] == "2019-01-01T08:00:00+08:00" and a["level_name"] == {"zh": "严重", "en": "serious"}
    assert a["summary"]["zh"].startswith("【天蓝告警·3级严重·新告警】")
    assert body["evidence"]["detectors"][0]["config_hashes"] == ["cfg0123456789abc"]
    assert verify_signature(SECRET, h["x-tianlan-timestamp"], req["body"], h["x-tianlan-signature"])
    assert not verify_signature("wrong", h["x-tianlan-timestamp"], req["body"], h["x-tianlan-signature"])
    assert not verify_signature(SECRET, h["x-tianlan-timestamp"], req["body"] + b" ", h["x-tianlan-signature"])
    assert not verify_signature(SECRET, h["x-tianlan-timestamp"], req["body"], h["x-tianlan-signature"],
                                now=time.time() + 3600)  # a replay an hour later


def test_webhook_retries_with_backoff(receiver, alarm) -> None:
    receiver.statuses[:] = [503, 502, 200]
    sleeps: list[float] = []
    assert _webhook(receiver.url, sleeps, backoff_s=0.25).send(alarm, "raised") == "webhook: HTTP 200, attempt 3"
    assert sleeps == [0.25, 0.5] and len(receiver.requests) == 3
    assert len({r["headers"]["x-tianlan-delivery"] for r in receiver.requests}) == 1  # one delivery id


def test_webhook_gives_up(receiver, alarm) -> None:
    receiver.statuses[:] = [500] * 10
    sleeps: list[float] = []
    with pytest.raises(DeliveryError, match="gave up after 3 attempts, last HTTP 500"):
        _webhook(receiver.url, sleeps, retries=2).send(alarm, "raised")
    assert len(receiver.requests) == 3 and sleeps == [0.5, 1.0]


def test_webhook_client_errors_are_not_retried(receiver, alarm) -> None:
    receiver.statuses[:] = [401]
    with pytest.raises(DeliveryError, match="HTTP 401"):
        _webhook(receiver.url, []).send(alarm, "raised")
    assert len(receiver.requests) == 1


def test_webhook_unreachable(alarm, free_port) -> None:
    sleeps: list[float] = []
    with pytest.raises(DeliveryError, match="ConnectError"):
        _webhook(f"http://127.0.0.1:{free_port()}/", sleeps, retries=1, timeout_s=2).send(alarm, "raised")
    assert sleeps == [0.5]


def _message(envelope) -> email.message.EmailMessage:  # type: ignore[no-untyped-def]
    return email.message_from_bytes(envelope.original_content, policy=email.policy.default)  # type: ignore[return-value]


def test_email_reaches_the_smtp_server(smtp_server, alarm) -> None:
    n = EmailNotifier(smtp_server.host, smtp_server.port, sender="tianlan@hb.example", recipients=["duty@hb.example",
                                                                                                  "ops@hb.example"])
    assert n.send(alarm, "raised") == "email: 2 of 2 recipient(s)"
    (env,) = smtp_server.messages
    assert env.mail_from == "tianlan@hb.example" and env.rcpt_tos == ["duty@hb.example", "ops@hb.example"]
    msg = _message(env)
    subject = str(msg["Subject"])
    assert subject.startswith("【天蓝告警·3级严重·新告警】站点 1001A")
    assert subject.index("【天蓝告警") < subject.index("[Tianlan alarm L3 serious, raised]")
    body = msg.get_content()
    assert body.index("天蓝告警 #7") < body.index("Tianlan alarm #7")
    for text in ("1001A", "XV-03", "mist_signature", "2019-01-01T08:00:00+08:00", "0.930", "cfg0123456789abc"):
        assert text in body
    assert msg["X-Tianlan-Alarm"] == "7"


def test_email_unreachable(alarm, free_port) -> None:
    with pytest.raises(DeliveryError, match="邮件发送失败"):
        EmailNotifier("127.0.0.1", free_port(), sender="a@b", recipients=["c@d"], timeout_s=2).send(alarm, "raised")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not available to make a test certificate")
def test_email_starttls_and_login(tmp_path: Path, alarm, free_port) -> None:
    controller = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd not installed (test extra)")
    from aiosmtpd.smtp import AuthResult

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    got, logins = [], []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def] # noqa: N802
            got.append(envelope)
            return "250 OK"

    def auth(server, session, envelope, mechanism, data):  # type: ignore[no-untyped-def]
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"pw")

    port = free_port()
    ctl = controller.Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=server_ctx, require_starttls=True,
                                authenticator=auth, auth_require_tls=True)
    ctl.start()
    try:
        client_ctx = ssl.create_default_context(cafile=str(cert))
        n = EmailNotifier("127.0.0.1", port, sender="a@hb.example", recipients=["b@hb.example"], starttls=True,
                          user="tianlan", password="pw", ssl_context=client_ctx)
        n.send(alarm, "escalated")
        assert logins == [(b"tianlan", b"pw")] and len(got) == 1
        assert "告警升级" in str(_message(got[0])["Subject"])
        with pytest.raises(DeliveryError):  # without STARTTLS the server refuses
            EmailNotifier("127.0.0.1", port, sender="a@hb.example", recipients=["b@hb.example"]).send(alarm, "raised")
    finally:
        ctl.stop()


def test_settings_build_the_notifiers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIANLAN_ALARM_WEBHOOK_URL", "http://127.0.0.1:1/hook")
    monkeypatch.setenv("TIANLAN_ALARM_WEBHOOK_RETRIES", "5")
    monkeypatch.setenv("TIANLAN_ALARM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TIANLAN_ALARM_SMTP_STARTTLS", "true")
    monkeypatch.setenv("TIANLAN_ALARM_MAIL_TO", "a@b, c@d")
    with pytest.raises(ConfigError, match="alarm_webhook_secret"):
        NotifySettings.from_settings().notifiers()
    monkeypatch.setenv("TIANLAN_ALARM_WEBHOOK_SECRET", "k")
    s = NotifySettings.from_settings()
    assert s.webhook_retries == 5 and s.smtp_starttls is True
    web, mail = s.notifiers()
    assert isinstance(web, WebhookNotifier) and web.retries == 5
    assert isinstance(mail, EmailNotifier) and mail.recipients == ["a@b", "c@d"] and mail.starttls

    class FromSettings:  # a settings object with the fields wins over the environment
        alarm_webhook_url = None
        alarm_smtp_host = "mail.example"
        alarm_mail_to = "x@y"

    assert NotifySettings.from_settings(FromSettings()).smtp_host == "mail.example"
    monkeypatch.setenv("TIANLAN_ALARM_SMTP_PORT", "abc")
    with pytest.raises(ConfigError, match="alarm_smtp_port"):
        NotifySettings.from_settings()


def test_alarm_service_delivers_to_both(tmp_path: Path, mk, receiver, smtp_server) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 't.db'}", sqlite_synchronous="NORMAL")
    svc = AlarmService(engine, notifiers=[
        WebhookNotifier(receiver.url, SECRET),
        EmailNotifier(smtp_server.host, smtp_server.port, sender="t@hb.example", recipients=["duty@hb.example"]),
    ])
    rep = svc.raise_results([mk("FOR-06", station="1301A", reason="copied_day", score=0.97),
                             mk("RNG-01", station="1301A", parameter="a21026", reason="range")])  # level 1: not sent
    (aid,) = [i for i in rep.raised if svc.repo.get(i).level >= 2]
    assert [n for _, n, _ in rep.notified] == ["webhook", "email"] and rep.failed == []
    (body,) = receiver.bodies()
    assert body["alarm"]["id"] == aid and body["alarm"]["reason"] == "copied_day"
    (env,) = smtp_server.messages
    assert "copied_day" in str(_message(env)["Subject"]) and f"#{aid}" in _message(env).get_content()
    notes = [e.note for e in svc.repo.events(aid) if e.action == "notify"]
    assert notes == ["raised: webhook: HTTP 200, attempt 1", "raised: email: 1 of 1 recipient(s)"]
    engine.dispose()


def test_text_is_chinese_first(alarm) -> None:
    t = render_text(alarm, "raised")
    assert t.index("级别：3级 严重") < t.index("Level: L3 serious")


def test_service_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver, mk) -> None:
    monkeypatch.setenv("TIANLAN_ALARM_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("TIANLAN_ALARM_WEBHOOK_SECRET", SECRET)
    monkeypatch.delenv("TIANLAN_ALARM_SMTP_HOST", raising=False)
    engine = open_store(f"sqlite:///{tmp_path / 't.db'}", sqlite_synchronous="NORMAL")
    svc = AlarmService.from_settings(engine)
    assert [n.name for n in svc.notifiers] == ["webhook"]
    svc.raise_results([mk()])
    assert len(receiver.requests) == 1
    engine.dispose()
