"""Slow and greedy clients against a real `fraud serve`: half-sent headers, a body
trickled a byte at a time, oversized headers, more connections than allowed and idle
kept-alive connections are each answered and closed within their bound, and the
server goes on answering everyone else."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from app.metrics import scraped_total
from tests.e2e.test_serve import live, serving

HEADERS = {"Authorization": "Bearer k1", "Content-Type": "application/json"}
LIMITS = {
    "FRAUD_HEADER_TIMEOUT_S": "1",
    "FRAUD_BODY_TIMEOUT_S": "1",
    "FRAUD_KEEP_ALIVE_TIMEOUT_S": "1",
    "FRAUD_MAX_HEADER_BYTES": "2048",
    "FRAUD_LIMIT_CONCURRENCY": "16",
}
# Generous: each bound is 1 s; a connection must be closed well within this.
CLOSED_WITHIN_S = 6.0


@pytest.fixture(scope="module")
def server(bundle_dir: Path) -> Iterator[tuple[str, int]]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in LIMITS.items():
            patch.setenv(name, value)
        with serving(bundle_dir) as (base, _process):
            yield base, int(base.rsplit(":", 1)[1])


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=CLOSED_WITHIN_S)
    return sock


def read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    started = time.monotonic()
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received, time.monotonic() - started


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def body_of(answer: bytes) -> dict[str, str]:
    return orjson.loads(answer.split(b"\r\n\r\n", 1)[1])


def decisions(base: str) -> float:
    return scraped_total(httpx.get(f"{base}/metrics").text, "fraud_decisions_total")


def still_answers(base: str) -> None:
    body = live(transaction_id=f"still-{time.monotonic_ns()}")
    r = httpx.post(f"{base}/v1/score", content=orjson.dumps(body), headers=HEADERS)
    assert r.status_code == 200


def test_half_sent_headers_get_408_and_are_closed(server: tuple[str, int]) -> None:
    base, port = server
    with connect(port) as sock:
        sock.sendall(b"POST /v1/score HTTP/1.1\r\nHost: x\r\n")
        answer, took = read_until_closed(sock)
    assert status_of(answer) == 408
    assert body_of(answer)["error"] == "request_timeout"
    assert took < CLOSED_WITHIN_S
    still_answers(base)


def test_a_connection_that_sends_nothing_is_closed(server: tuple[str, int]) -> None:
    _, port = server
    with connect(port) as sock:
        answer, took = read_until_closed(sock)
    assert status_of(answer) == 408
    assert took < CLOSED_WITHIN_S


def test_headers_trickled_a_byte_at_a_time_are_cut_off(server: tuple[str, int]) -> None:
    _, port = server
    request = b"POST /v1/score HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    started = time.monotonic()
    with connect(port) as sock:
        try:
            for byte in request:
                sock.sendall(bytes([byte]))
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer, _ = read_until_closed(sock)
    assert status_of(answer) == 408
    assert time.monotonic() - started < CLOSED_WITHIN_S + 1


def test_a_body_trickled_a_byte_a_time_gets_408(server: tuple[str, int]) -> None:
    base, port = server
    body = orjson.dumps(live() | {"transaction_id": "slow-body-1"})
    head = (
        b"POST /v1/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k1\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
    )
    decided = decisions(base)
    started = time.monotonic()
    with connect(port) as sock:
        sock.sendall(head)
        try:
            for byte in body[:40]:
                sock.sendall(bytes([byte]))
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer, _ = read_until_closed(sock)
    assert status_of(answer) == 408
    assert body_of(answer)["error"] == "request_timeout"
    assert time.monotonic() - started < CLOSED_WITHIN_S
    assert decisions(base) == decided  # nothing was scored
    still_answers(base)


def test_oversized_headers_get_431(server: tuple[str, int]) -> None:
    _, port = server
    with connect(port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4096 + b"\r\n")
        answer, _ = read_until_closed(sock)
    assert status_of(answer) == 431
    assert body_of(answer)["error"] == "headers_too_large"


@pytest.mark.parametrize("split", [0, 2], ids=["one-send", "blank-line-split"])
def test_a_body_arriving_with_its_headers_is_not_counted_as_headers(
    server: tuple[str, int], split: int
) -> None:
    """Headers and a body twice FRAUD_MAX_HEADER_BYTES (well within FRAUD_MAX_BODY_BYTES)
    in one send, so in one read: the body used to be counted as header bytes (431). Also
    with the headers' blank line split between two sends, the body with its second half."""
    base, port = server
    body = orjson.dumps(live(transaction_id=f"one-read-{time.monotonic_ns()}"))
    body += b" " * (2 * int(LIMITS["FRAUD_MAX_HEADER_BYTES"]) - len(body))  # JSON white space
    head = (
        b"POST /v1/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k1\r\n"
        b"Content-Type: application/json\r\nConnection: close\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
    )
    with connect(port) as sock:
        first = head[:-split] if split else b""
        if first:
            sock.sendall(first)
            time.sleep(0.05)  # most likely two reads
        sock.sendall(head[len(first) :] + body)
        answer, _ = read_until_closed(sock)
    assert status_of(answer) == 200, answer
    assert body_of(answer)["decision"] in {"approve", "review", "decline"}
    still_answers(base)


def test_connections_beyond_the_limit_are_refused_and_the_rest_served(
    server: tuple[str, int],
) -> None:
    base, port = server
    idle = [connect(port) for _ in range(16)]
    try:
        with connect(port) as extra:
            answer, took = read_until_closed(extra)
        assert status_of(answer) == 503
        assert took < 1.0
    finally:
        for sock in idle:
            sock.close()
    # The idle ones are gone; the server answers again.
    deadline = time.monotonic() + CLOSED_WITHIN_S
    while True:
        try:
            still_answers(base)
            break
        except (AssertionError, httpx.HTTPError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_an_idle_kept_alive_connection_is_closed(server: tuple[str, int]) -> None:
    _, port = server
    with connect(port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer, took = read_until_closed(sock)
    assert status_of(answer) == 200
    assert took < CLOSED_WITHIN_S
