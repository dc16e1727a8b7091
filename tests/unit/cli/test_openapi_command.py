"""`fraud openapi`: the OpenAPI document without a server or store, whatever FRAUD_* says."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from cli.main import cli


def test_prints_the_document_with_the_console_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    # A production environment without keys, and stores nobody runs: none of it matters.
    monkeypatch.setenv("FRAUD_ENVIRONMENT", "production")
    monkeypatch.setenv("FRAUD_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("FRAUD_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(cli, ["openapi"])
    assert result.exit_code == 0, result.output
    document = orjson.loads(result.stdout)
    assert document["openapi"].startswith("3.")
    for path in ("/v1/me", "/v1/alerts", "/v1/rules/hits", "/v1/score"):
        assert "get" in document["paths"][path] or "post" in document["paths"][path]
    assert "/dashboard/" not in document["paths"]
    for schema in ("Me", "AlertPage", "RuleHits"):
        assert schema in document["components"]["schemas"]


def test_writes_the_document_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    result = CliRunner().invoke(cli, ["openapi", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert orjson.loads(out.read_bytes())["info"]["title"] == "fraud-engine"
