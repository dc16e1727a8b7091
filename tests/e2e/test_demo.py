"""`fraud demo` end to end: trains, serves, replays traffic, prints where to look, stops what it started."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from localservers import delete_keys
from tests.pg import DATABASE_URL, drop_schema
from tests.servers import shared_redis_url

FRAUD = str(Path(sys.executable).with_name("fraud"))
DEMO = ["demo", "--days", "20", "--cards", "600", "--duration", "3", "--rate", "20", "--port", "0"]


def test_demo_trains_serves_and_replays(tmp_path: Path) -> None:
    url = shared_redis_url()
    prefix = f"demo-test-{uuid.uuid4().hex[:8]}"
    env = os.environ | {
        "FRAUD_MODEL_DIR": str(tmp_path / "model"),
        "FRAUD_DATA_DIR": str(tmp_path / "data"),
        "FRAUD_REDIS_URL": url,
        "FRAUD_REDIS_PREFIX": prefix,
        "FRAUD_DATABASE_URL": DATABASE_URL,
        "FRAUD_DATABASE_SCHEMA": prefix.replace("-", "_"),
        "FRAUD_KAFKA_BOOTSTRAP_SERVERS": "",  # none configured: the demo starts tansu
    }
    try:
        out = subprocess.run(
            [FRAUD, *DEMO], env=env, capture_output=True, text=True, timeout=300, check=False
        )
    finally:
        delete_keys(url, prefix)
        drop_schema(prefix.replace("-", "_"))
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stderr
    assert "/docs" in text
    assert "/metrics" in text
    assert "API key:  fk_" in text
    assert "'statuses': {200: 60}" in text
    assert "'degraded': 0" in text
    assert "kafka: started the tansu broker" in text
    assert "decisions stored in PostgreSQL so far: 60" in text
    assert (tmp_path / "model" / "report.md").exists()
