"""POST /v1/score in-process against a real Redis (and Kafka where the audit is part of the
answer): every answer and refusal of tests/score_contract.py's table, byte for byte as
recorded, with the log lines and metrics each caused."""

from __future__ import annotations

import asyncio
import io
import logging
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pythonjsonlogger.orjson import OrjsonFormatter

from app.logs import JSON_FIELDS, JSON_NAMES
from app.main import create_app
from localservers import TansuBroker, free_port
from tests import score_contract as contract
from tests.integration.conftest import make_settings

RECORDING: dict[str, Any] = {}


@pytest.fixture(scope="module")
def golden(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The recorded contract; with --record-contract, an empty one filled by the tests and
    written at the end."""
    if request.config.getoption("--record-contract"):
        yield RECORDING
        contract.save(RECORDING)
        return
    yield contract.load()


def check(golden: dict[str, Any], name: str, seen: Any) -> None:
    if golden is RECORDING:
        golden[name] = seen
        return
    assert seen == golden[name], name


@contextmanager
def log_lines() -> Iterator[list[dict[str, Any]]]:
    """The access and security lines written meanwhile, as `fraud serve` writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OrjsonFormatter(JSON_FIELDS, rename_fields=JSON_NAMES))
    loggers = [logging.getLogger(name) for name in ("fraud.access", "fraud.security")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
        lines += [contract.log_line(orjson.loads(x)) for x in stream.getvalue().splitlines()]


def metrics() -> dict[str, float]:
    return contract.metric_values(REGISTRY.get_sample_value)


@contextmanager
def observing(golden: dict[str, Any], name: str) -> Iterator[dict[str, Any]]:
    """What the block observes (it fills the dict), with the log lines and the metrics
    moved meanwhile, compared to the recorded entry `name`."""
    seen: dict[str, Any] = {}
    before = metrics()
    with log_lines() as lines:
        yield seen
    check(golden, name, seen | {"logs": lines, "metrics": contract.moved(before, metrics())})


def send(client: TestClient, case: contract.Case) -> tuple[int, list[tuple[str, str]], bytes]:
    request = contract.build(case)
    content: Any = request.content
    if request.chunked:
        content = (
            request.content[i : i + request.chunked]
            for i in range(0, len(request.content), request.chunked)
        )
    response = client.request(
        request.method,
        request.path,
        content=content,
        headers=request.headers,
        follow_redirects=False,
    )
    return response.status_code, list(response.headers.multi_items()), response.content


def test_every_answer_and_refusal_of_the_table(
    golden: dict[str, Any], redis_url: str, prefix: str, bundle_dir: Path
) -> None:
    settings = make_settings(redis_url, prefix, bundle_dir, **contract.SETTINGS)
    answers: dict[str, bytes] = {}
    before = metrics()
    with TestClient(create_app(settings)) as client:
        for case in contract.CASES:
            with log_lines() as lines:
                status, headers, content = send(client, case)
            seen = contract.observed(case, status, headers, content) | {"logs": lines}
            check(golden, f"table/{case.name}", seen)
            answers[case.name] = content
            if case.same_as is not None:
                assert content == answers[case.same_as], case.name
    check(golden, "table/metrics", contract.moved(before, metrics()))


def test_over_the_rate_limit(
    golden: dict[str, Any], redis_url: str, prefix: str, bundle_dir: Path
) -> None:
    settings = make_settings(
        redis_url, prefix, bundle_dir, **contract.SETTINGS | contract.RATE_LIMIT
    )
    cheap = contract.refused("rate_limit_spent", lambda: b"{}", key="limited")
    with TestClient(create_app(settings)) as client:
        for _ in range(100):  # the burst, and what refills meanwhile
            status, _, _ = send(client, cheap)
            if status == 429:
                break
        with observing(golden, "rate_limited") as seen:
            seen |= contract.observed(cheap, *send(client, cheap))


def test_degraded_when_the_store_is_unreachable(
    golden: dict[str, Any], prefix: str, bundle_dir: Path
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    settings = make_settings(nowhere, prefix, bundle_dir, **contract.SETTINGS)
    case = contract.scored("degraded", "c_degraded")
    with TestClient(create_app(settings)) as client, observing(golden, "degraded") as seen:
        seen |= contract.observed(case, *send(client, case))


@pytest.mark.timeout(120)
def test_503_when_the_audit_log_cannot_be_written(
    golden: dict[str, Any],
    broker: TansuBroker,
    redis_url: str,
    prefix: str,
    bundle_dir: Path,
    tmp_path: Path,
) -> None:
    """The durable audit log refuses the write (the file size limit, a real EFBIG from the
    kernel): the decision is not answered."""
    settings = make_settings(
        redis_url,
        prefix,
        bundle_dir,
        **contract.SETTINGS,
        kafka_bootstrap_servers=broker.bootstrap,
        audit_idempotence=False,  # tansu refuses InitProducerId
        audit_durability="log",
        audit_log_dir=tmp_path / "audit",
        spool_path=tmp_path / "audit.spool",
    )
    first = contract.scored("audited", "c_audited")
    case = contract.scored("audit_unavailable", "c_audit_full")
    with TestClient(create_app(settings)) as client:
        assert send(client, first)[0] == 200
        written = sum(p.stat().st_size for p in (tmp_path / "audit").rglob("*.log"))
        limits = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (written, limits[1]))
        try:
            with observing(golden, "audit_unavailable") as seen:
                seen |= contract.observed(case, *send(client, case))
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, limits)


async def asgi_call(
    app: Any, messages: list[dict[str, Any]], headers: dict[str, str]
) -> list[dict[str, Any]]:
    """POST /v1/score straight through the ASGI interface: `messages` are what receive()
    gives, in order (then it waits, as a client that says no more); what was sent back."""
    queue = list(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if queue:
            return queue.pop(0)
        await asyncio.Event().wait()
        raise AssertionError

    async def record(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/score",
        "raw_path": b"/v1/score",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, record)
    return sent


def run_asgi(app: Any, messages: list[dict[str, Any]], headers: dict[str, str]) -> list[Any]:
    """asgi_call on `app`, started and stopped around it."""

    async def go() -> list[dict[str, Any]]:
        from asgi_lifespan import LifespanManager

        async with LifespanManager(app) as manager:
            return await asgi_call(manager.app, messages, headers)

    return asyncio.run(go())


def response_of(case: contract.Case, sent: list[dict[str, Any]]) -> dict[str, Any]:
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    headers = [(k.decode(), v.decode()) for k, v in start["headers"]]
    return contract.observed(case, start["status"], headers, body)


def test_a_body_that_does_not_arrive_in_time_is_408(
    golden: dict[str, Any], redis_url: str, prefix: str, bundle_dir: Path
) -> None:
    settings = make_settings(redis_url, prefix, bundle_dir, **contract.SETTINGS)
    content = contract.body("c_slow")
    headers = contract.JSON | contract.bearer("score") | {"Content-Length": str(len(content))}
    case = contract.Case("slow_body", lambda: contract.Request())
    with observing(golden, "slow_body") as seen:
        sent = run_asgi(
            create_app(settings),
            [{"type": "http.request", "body": content[:10], "more_body": True}],
            headers,
        )
        seen |= response_of(case, sent)


def test_a_client_gone_mid_body_is_one_log_line(
    golden: dict[str, Any], redis_url: str, prefix: str, bundle_dir: Path
) -> None:
    settings = make_settings(redis_url, prefix, bundle_dir, **contract.SETTINGS)
    content = contract.body("c_gone")
    headers = contract.JSON | contract.bearer("score") | {"Content-Length": str(len(content))}
    case = contract.Case("client_gone", lambda: contract.Request())
    with observing(golden, "client_gone") as seen:
        sent = run_asgi(
            create_app(settings),
            [
                {"type": "http.request", "body": content[:10], "more_body": True},
                {"type": "http.disconnect"},
            ],
            headers,
        )
        seen |= response_of(case, sent)


def test_scoring_is_answered_ahead_of_fastapi_and_by_the_route_too(
    redis_url: str, prefix: str, bundle_dir: Path
) -> None:
    """POST /v1/score never enters FastAPI's middleware (other methods and paths do); a
    request that reaches the router anyway is answered by the same endpoint."""
    app = create_app(make_settings(redis_url, prefix, bundle_dir, **contract.SETTINGS))
    entered: list[tuple[str, str]] = []

    class Watch:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                entered.append((scope["method"], scope["path"]))
            await self.app(scope, receive, send)

    app.add_middleware(Watch)
    with TestClient(app) as client:
        answer = send(client, contract.scored("ahead", "c_ahead"))
        assert answer[0] == 200
        assert send(client, contract.CASES_BY_NAME["get_method"])[0] == 405
        assert client.get("/healthz").status_code == 200
        assert entered == [("GET", "/v1/score"), ("GET", "/healthz")]

        # The router, as FastAPI's middleware would call it.
        content = contract.body("c_router")
        headers = contract.JSON | contract.bearer("score")
        messages = [{"type": "http.request", "body": content}]
        sent = client.portal.call(asgi_call, app.router, messages, headers)  # type: ignore[union-attr]
    routed = response_of(contract.scored("routed", "c_router"), sent)
    assert routed["status"] == 200
    assert routed["headers"] == [
        ["content-length", "<length>"],
        ["content-type", "application/json"],
    ]
    assert routed["answer"]["transaction_id"] == "c_router"
