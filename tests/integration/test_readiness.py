"""/readyz comes from the model bundle: a bundle that loaded but is not fit to serve
(its library damaged, no compiler to rebuild it: the slower GTIL fallback) answers 503,
while requests are still scored; a good bundle reloaded makes the process ready again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.schemas.score import EXAMPLE
from tests.integration.conftest import API_KEY, make_settings


@pytest.mark.filterwarnings("ignore:xgboost.so. no usable compiled library:UserWarning")
def test_a_bundle_that_is_not_ready_makes_readyz_answer_503(
    redis_url: str, prefix: str, bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    damaged = tmp_path / "bundle"
    shutil.copytree(bundle_dir, damaged)
    (damaged / "xgboost.so").write_bytes(b"not a library")
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    settings = make_settings(redis_url, prefix, damaged)
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {API_KEY}"
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json() == {"error": "not_ready", "detail": {"redis": True, "model": False}}
        assert client.post("/v1/score", json=EXAMPLE).status_code == 200

        shutil.rmtree(damaged)
        shutil.copytree(bundle_dir, damaged)
        assert client.post("/v1/admin/reload").status_code == 200
        assert client.get("/readyz").json()["status"] == "ready"
