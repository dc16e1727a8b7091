"""POST /v1/score on a real `fraud serve` process, through real sockets: every answer and
refusal of tests/score_contract.py's table, byte for byte as recorded, with the log lines
(its JSON lines on stderr) and the metrics (its /metrics) each caused."""

from __future__ import annotations

import resource
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from localservers import RedisServer, TansuBroker
from tests import score_contract as contract
from tests.e2e.test_serve import serving

ENV = {f"FRAUD_{k.upper()}": str(v) for k, v in contract.SETTINGS.items()} | {
    "FRAUD_LOG_FORMAT": "json"
}


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    return contract.load()


def metrics(base: str) -> dict[str, float]:
    exposition = httpx.get(f"{base}/metrics").text
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
    }
    return contract.metric_values(
        lambda name, labels: values.get((name, tuple(sorted(labels.items()))))
    )


def requests_logged(written: bytes) -> list[list[dict[str, Any]]]:
    """The access and security lines of stderr, one list per request to /v1/score (the
    harness's own to /readyz and /metrics left out): a request's lines end with its access
    line."""
    out: list[list[dict[str, Any]]] = [[]]
    for raw in written.splitlines():
        line = orjson.loads(raw)
        if line["logger"] not in ("fraud.access", "fraud.security"):
            continue
        out[-1].append(contract.log_line(line))
        if line["logger"] == "fraud.access" and "status" in line:
            out.append([])
    return [lines for lines in out[:-1] if lines[-1]["path"] not in ("/readyz", "/metrics")]


def send(http: httpx.Client, case: contract.Case) -> tuple[int, list[tuple[str, str]], bytes]:
    request = contract.build(case)
    content: Any = request.content
    if request.chunked:
        content = (
            request.content[i : i + request.chunked]
            for i in range(0, len(request.content), request.chunked)
        )
    response = http.request(request.method, request.path, content=content, headers=request.headers)
    return response.status_code, list(response.headers.multi_items()), response.content


@contextmanager
def server(
    bundle_dir: Path, env: dict[str, str] | None = None, **options: Any
) -> Iterator[tuple[str, list[bytes]]]:
    stderr: list[bytes] = []
    with serving(bundle_dir, env=ENV | (env or {}), stderr=stderr, **options) as (base, _):
        yield base, stderr


def compare_one(
    golden: dict[str, Any],
    name: str,
    bundle_dir: Path,
    exchange: Callable[[str], dict[str, Any]],
    env: dict[str, str] | None = None,
    **options: Any,
) -> None:
    """One request (`exchange`, after whatever it needs first) on a server of its own: its
    answer, its log lines (the last request's) and the metrics it moved."""
    with server(bundle_dir, env, **options) as (base, stderr):
        seen, before = exchange(base)
        after = metrics(base)
    logged = requests_logged(stderr[0])
    expected = golden[name]
    assert seen | {"logs": logged[-1]} == {k: v for k, v in expected.items() if k != "metrics"}
    assert contract.moved(before, after) == expected["metrics"], name


def test_every_answer_and_refusal_of_the_table(golden: dict[str, Any], bundle_dir: Path) -> None:
    answers: dict[str, bytes] = {}
    seen: dict[str, Any] = {}
    with server(bundle_dir) as (base, stderr), httpx.Client(base_url=base) as http:
        before = metrics(base)
        for case in contract.CASES:
            status, headers, content = send(http, case)
            seen[case.name] = contract.observed(case, status, headers, content)
            answers[case.name] = content
            if case.same_as is not None:
                assert content == answers[case.same_as], case.name
        after = metrics(base)
    logged = requests_logged(stderr[0])
    assert len(logged) == len(contract.CASES)
    for case, lines in zip(contract.CASES, logged, strict=True):
        assert seen[case.name] | {"logs": lines} == golden[f"table/{case.name}"], case.name
    assert contract.moved(before, after) == golden["table/metrics"]


def test_over_the_rate_limit(golden: dict[str, Any], bundle_dir: Path) -> None:
    cheap = contract.refused("rate_limit_spent", lambda: b"{}", key="limited")

    def exchange(base: str) -> tuple[dict[str, Any], dict[str, float]]:
        with httpx.Client(base_url=base) as http:
            for _ in range(100):  # the burst, and what refills meanwhile
                if send(http, cheap)[0] == 429:
                    break
            before = metrics(base)
            return contract.observed(cheap, *send(http, cheap)), before

    limits = {f"FRAUD_{k.upper()}": str(v) for k, v in contract.RATE_LIMIT.items()}
    compare_one(golden, "rate_limited", bundle_dir, exchange, limits)


def test_degraded_when_the_store_is_unreachable(golden: dict[str, Any], bundle_dir: Path) -> None:
    case = contract.scored("degraded", "c_degraded")
    redis = RedisServer().start()  # ready with it, then without it

    def exchange(base: str) -> tuple[dict[str, Any], dict[str, float]]:
        redis.cleanup()
        before = metrics(base)
        with httpx.Client(base_url=base) as http:
            return contract.observed(case, *send(http, case)), before

    try:
        compare_one(golden, "degraded", bundle_dir, exchange, {"FRAUD_REDIS_URL": redis.url})
    finally:
        redis.cleanup()


# The server's largest file: its audit log fills it after a few dozen decisions, while its
# stderr (a file too, with the same limit) stays well under it.
FILE_SIZE_LIMIT = 64 << 10


def limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


@pytest.mark.timeout(180)
def test_503_when_the_audit_log_cannot_be_written(
    golden: dict[str, Any], bundle_dir: Path, tmp_path: Path
) -> None:
    """The durable audit log meets the process's file size limit (a real EFBIG from the
    kernel): that decision is not answered."""
    case = contract.scored("audit_unavailable", "c_audit_full")
    broker = TansuBroker().start()
    try:

        def exchange(base: str) -> tuple[dict[str, Any], dict[str, float]]:
            with httpx.Client(base_url=base) as http:
                for n in range(200):
                    before = metrics(base)
                    status, headers, content = send(
                        http, contract.scored("audit_unavailable", f"c_audit_{n}")
                    )
                    if status == 503:
                        return contract.observed(case, status, headers, content), before
                    assert status == 200, content
            raise AssertionError("the audit log never refused")

        env = {
            "FRAUD_AUDIT_DURABILITY": "log",
            "FRAUD_AUDIT_LOG_DIR": str(tmp_path / "audit"),
        }
        compare_one(
            golden,
            "audit_unavailable",
            bundle_dir,
            exchange,
            env,
            kafka=broker.bootstrap,
            preexec=limit_file_size,
        )
    finally:
        broker.cleanup()


def raw_exchange(base: str, head: bytes, then: Callable[[socket.socket], None]) -> bytes:
    """`head` sent on a socket of its own, then `then` done with it; what came back."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall(head)
        then(s)
        s.settimeout(30)
        received = b""
        while chunk := s.recv(65536):
            received += chunk
        return received


def parsed(case: contract.Case, received: bytes) -> dict[str, Any]:
    head, _, content = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = [tuple(line.split(": ", 1)) for line in lines]
    return contract.observed(case, int(status_line.split()[1]), headers, content)  # type: ignore[arg-type]


def partial_request() -> tuple[bytes, bytes]:
    content = contract.body("c_partial")
    head = (
        b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {contract.KEYS['score']}\r\n".encode()
        + f"Content-Length: {len(content)}\r\n\r\n".encode()
    )
    return head, content[:10]


def test_a_body_that_does_not_arrive_in_time_is_408(
    golden: dict[str, Any], bundle_dir: Path
) -> None:
    case = contract.Case("slow_body", contract.Request)

    def exchange(base: str) -> tuple[dict[str, Any], dict[str, float]]:
        before = metrics(base)
        head, part = partial_request()
        return parsed(case, raw_exchange(base, head + part, lambda s: None)), before

    compare_one(golden, "slow_body", bundle_dir, exchange)


def test_a_client_gone_mid_body_is_one_log_line(golden: dict[str, Any], bundle_dir: Path) -> None:
    def exchange(base: str) -> tuple[dict[str, Any], dict[str, float]]:
        before = metrics(base)
        head, part = partial_request()
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as s:
            s.sendall(head + part)
        # Its lines are written before the server stops (it waits for requests under way).
        return {}, before

    expected = golden["client_gone"]
    golden = golden | {"client_gone": {k: expected[k] for k in ("logs", "metrics")}}
    compare_one(golden, "client_gone", bundle_dir, exchange)
