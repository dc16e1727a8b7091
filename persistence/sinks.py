"""Alert sinks: a generic webhook signed with HMAC-SHA256, Slack incoming webhooks,
PagerDuty Events API v2 and SMTP email. Each `send` raises SinkError on failure.

Webhook signature: `X-Fraud-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`
with `X-Fraud-Timestamp: <unix seconds>`; receivers check it with `verify_signature`
and refuse old timestamps (replays).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import smtplib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Protocol

import httpx
import orjson


class SinkError(RuntimeError):
    pass


class Sink(Protocol):
    name: str

    async def send(self, alert: dict[str, Any]) -> None: ...


def summary(alert: dict[str, Any]) -> str:
    return (
        f"{alert['risk_tier'].upper()} fraud risk {alert['score']:.2f}: "
        f"{alert['amount']:.2f} {alert['currency']} on card {alert['card_id']} "
        f"at {alert['merchant_id']} ({alert['decision']}, tx {alert['transaction_id']})"
    )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify_signature(
    secret: str, timestamp: str, body: bytes, signature: str, tolerance_s: float = 300.0
) -> bool:
    try:
        fresh = abs(time.time() - int(timestamp)) <= tolerance_s
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


async def _post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> None:
    try:
        response = await client.post(
            url, content=body, headers={"Content-Type": "application/json", **headers}
        )
    except httpx.HTTPError as exc:
        raise SinkError(f"{type(exc).__name__}: {exc}") from exc
    if not response.is_success:
        raise SinkError(f"HTTP {response.status_code}: {response.text[:200]}")


@dataclass(slots=True)
class WebhookSink:
    url: str
    secret: str
    client: httpx.AsyncClient
    name: str = "webhook"

    async def send(self, alert: dict[str, Any]) -> None:
        body = orjson.dumps(alert, option=orjson.OPT_SORT_KEYS)
        timestamp = str(int(time.time()))
        headers = {
            "X-Fraud-Timestamp": timestamp,
            "X-Fraud-Signature": sign(self.secret, timestamp, body),
        }
        await _post(self.client, self.url, body, headers)


def slack_message(alert: dict[str, Any]) -> dict[str, Any]:
    reasons = ", ".join(r["feature"] for r in alert.get("reasons", [])) or "none"
    return {
        "text": summary(alert),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{summary(alert)}*"}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"reasons: {reasons} · model {alert['model_version']}",
                    }
                ],
            },
        ],
    }


@dataclass(slots=True)
class SlackSink:
    url: str
    client: httpx.AsyncClient
    name: str = "slack"

    async def send(self, alert: dict[str, Any]) -> None:
        await _post(self.client, self.url, orjson.dumps(slack_message(alert)), {})


def pagerduty_event(alert: dict[str, Any], routing_key: str) -> dict[str, Any]:
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": f"fraud-engine:card:{alert['card_id']}",
        "payload": {
            "summary": summary(alert)[:1024],
            "source": "fraud-engine",
            "severity": "critical" if alert["risk_tier"] == "critical" else "error",
            "timestamp": alert["scored_at"],
            "component": "scoring",
            "class": "card_fraud",
            "custom_details": alert,
        },
    }


@dataclass(slots=True)
class PagerDutySink:
    url: str
    routing_key: str
    client: httpx.AsyncClient
    name: str = "pagerduty"

    async def send(self, alert: dict[str, Any]) -> None:
        await _post(
            self.client, self.url, orjson.dumps(pagerduty_event(alert, self.routing_key)), {}
        )


def email_message(alert: dict[str, Any], sender: str, recipients: Sequence[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[fraud-engine] {summary(alert)}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message.set_content(orjson.dumps(alert, option=orjson.OPT_INDENT_2).decode())
    return message


@dataclass(slots=True)
class EmailSink:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    starttls: bool = False
    username: str = ""
    password: str = ""
    timeout_s: float = 10.0
    name: str = "email"

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message)

    async def send(self, alert: dict[str, Any]) -> None:
        try:
            await asyncio.to_thread(self._send, email_message(alert, self.sender, self.recipients))
        except (smtplib.SMTPException, OSError) as exc:
            raise SinkError(f"{type(exc).__name__}: {exc}") from exc
