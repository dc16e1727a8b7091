"""The demo's webhook receiver: a signed alert is a 204 and counted, anything else a 401."""

from __future__ import annotations

import time

import httpx

from localservers.webhook import WebhookReceiver
from persistence.sinks import sign


def test_signed_alerts_are_accepted_and_others_refused() -> None:
    receiver = WebhookReceiver("s3cret").start()
    try:
        body = b'{"transaction_id":"t1"}'
        stamp = str(int(time.time()))
        signed = {"X-Fraud-Timestamp": stamp, "X-Fraud-Signature": sign("s3cret", stamp, body)}
        assert httpx.post(receiver.url, content=body, headers=signed).status_code == 204
        forged = signed | {"X-Fraud-Signature": sign("other", stamp, body)}
        assert httpx.post(receiver.url, content=body, headers=forged).status_code == 401
        assert httpx.post(receiver.url, content=body).status_code == 401
        assert (receiver.accepted, receiver.refused) == (1, 2)
        assert receiver.url.startswith("http://127.0.0.1:")
    finally:
        receiver.stop()
