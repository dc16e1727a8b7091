"""The access line written straight to the stream is the line logging would write, byte for
byte, in both formats; under any other logging configuration it goes through logging."""

from __future__ import annotations

import io
import logging
import logging.config
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from app import access_log
from app.logs import JsonLines, LogFormat, TextLines, access, logging_config


@contextmanager
def root_handler(handler: logging.Handler) -> Iterator[None]:
    """`handler` as the root logger's only one, as `fraud serve` configures logging."""
    saved, level = logging.root.handlers[:], logging.root.level
    logging.root.handlers[:] = [handler]
    logging.root.setLevel(logging.INFO)
    try:
        yield
    finally:
        logging.root.handlers[:] = saved
        logging.root.setLevel(level)


FIELDS = [
    ("POST", "/v1/score", 200, "0e1f90d49ef5bf6c", 1.234),
    ("GET", "<unmatched>", 404, None, 0.0),
    ("POST", "/v1/transactions/{transaction_id}", 503, "abd6ddb6a51a9bf7", 12345.678),
]


@pytest.mark.parametrize("formatter", [JsonLines, TextLines])
@pytest.mark.parametrize(("method", "path", "status", "key_id", "latency_ms"), FIELDS)
def test_a_line_written_directly_is_the_line_logging_writes(
    monkeypatch: pytest.MonkeyPatch,
    formatter: type[logging.Formatter],
    method: str,
    path: str,
    status: int,
    key_id: str | None,
    latency_ms: float,
) -> None:
    extra = {
        "key_id": key_id,
        "method": method,
        "path": path,
        "status": status,
        "latency_ms": latency_ms,
    }
    record = access.makeRecord(
        access.name,
        logging.INFO,
        __file__,
        1,
        "%s %s %d",
        (method, path, status),
        None,
        extra=extra,
    )
    expected = formatter().format(record) + "\n"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter())
    monkeypatch.setattr(access_log.time, "time", lambda: record.created)
    with root_handler(handler):
        assert access_log._direct_handler() == (handler, formatter is JsonLines)
        access_log.write(method, path, status, key_id, latency_ms)
    assert stream.getvalue() == expected


@pytest.mark.parametrize("created", [1_800_000_000.0, 1_800_000_000.9999, 1_800_000_059.5004])
def test_the_time_is_formatted_as_logging_formats_it(created: float) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.created = created
    record.msecs = int((created - int(created)) * 1000) + 0.0  # as LogRecord computes it
    assert access_log._asctime(created) == logging.Formatter().formatTime(record)
    assert access_log._asctime(created + 1) != access_log._asctime(created)  # not stuck


def test_any_other_configuration_gets_the_line_through_logging() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    with root_handler(handler):
        access.addHandler(captured := logging.StreamHandler(io.StringIO()))
        try:
            assert access_log._direct_handler() is None
            access_log.write("POST", "/v1/score", 200, None, 1.0)
        finally:
            access.removeHandler(captured)
        assert '"message":"POST /v1/score 200"' in stream.getvalue()  # propagated to root
        stream.truncate(0)
        for other in (logging.Formatter(), logging.Formatter("%(message)s")):
            handler.setFormatter(other)
            assert access_log._direct_handler() is None
        handler.setFormatter(JsonLines())
        handler.setLevel(logging.WARNING)
        assert access_log._direct_handler() is None
        access_log.write("POST", "/v1/score", 200, None, 1.0)
        assert stream.getvalue() == ""  # the handler's level holds


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_fraud_serve_s_configuration_writes_directly(log_format: LogFormat) -> None:
    saved = logging.root.handlers[:], logging.root.level
    try:
        logging.config.dictConfig(logging_config(log_format))
        direct = access_log._direct_handler()
        assert direct is not None
        assert direct[1] == (log_format == "json")
    finally:
        logging.root.handlers[:], level = saved
        logging.root.setLevel(level)
