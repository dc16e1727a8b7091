"""/dashboard/: the console's build served from a real directory, with its cache and
security headers; a 404 saying how to build it when it is not; nothing outside it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.routes.console import CONTENT_SECURITY_POLICY
from app.settings import Settings

INDEX = '<!doctype html><script type="module" src="/dashboard/assets/index-3f2a9c.js"></script>'


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "secret.txt").write_text("outside the build")
    build = tmp_path / "dist"
    (build / "assets").mkdir(parents=True)
    (build / "index.html").write_text(INDEX)
    (build / "assets" / "index-3f2a9c.js").write_text("console.log('console');")
    (build / "assets" / "index-b81d.css").write_text("body{margin:0}")
    (build / "favicon.svg").write_text("<svg/>")
    return build


def client_of(directory: Path) -> TestClient:
    # Not started: the console needs none of the clients the lifespan builds.
    return TestClient(create_app(Settings(environment="test", console_dir=directory)))


def test_index_is_revalidated_and_carries_the_policy(dist: Path) -> None:
    r = client_of(dist).get("/dashboard/")
    assert r.status_code == 200
    assert r.text == INDEX
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    for directive in ("script-src 'self'", "connect-src 'self' ws: wss:", "style-src 'self'"):
        assert directive in CONTENT_SECURITY_POLICY
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "etag" in r.headers


def test_hashed_assets_are_cached_for_a_year(dist: Path) -> None:
    c = client_of(dist)
    js = c.get("/dashboard/assets/index-3f2a9c.js")
    assert js.status_code == 200
    assert js.text == "console.log('console');"
    assert js.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert js.headers["cache-control"] == "public, max-age=31536000, immutable"
    css = c.get("/dashboard/assets/index-b81d.css")
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    # Unhashed files at the build's root (Vite's public/) are revalidated like index.html.
    assert c.get("/dashboard/favicon.svg").headers["cache-control"] == "no-cache"


def test_dashboard_without_a_slash_redirects(dist: Path) -> None:
    r = client_of(dist).get("/dashboard", follow_redirects=False)
    assert r.status_code == 308
    assert r.headers["location"] == "/dashboard/"


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/../secret.txt",
        "/dashboard/%2e%2e/secret.txt",
        "/dashboard/assets/..%2f..%2fsecret.txt",
        "/dashboard/assets/%2e%2e/%2e%2e/secret.txt",
        "/dashboard/..%5csecret.txt",
    ],
)
def test_nothing_outside_the_build_is_served(dist: Path, path: str) -> None:
    r = client_of(dist).get(path)
    assert "outside the build" not in r.text
    assert r.status_code == 404, (path, r.status_code, r.text)
    assert r.json()["error"] == "not_found"


def test_a_missing_file_is_our_404(dist: Path) -> None:
    r = client_of(dist).get("/dashboard/assets/gone-000.js")
    assert r.status_code == 404
    assert r.json() == {
        "error": "not_found",
        "detail": "no file 'assets/gone-000.js' in the console's build",
    }


def test_not_built_is_a_404_that_says_how_to_build_it(tmp_path: Path) -> None:
    c = client_of(tmp_path / "dist")
    r = c.get("/dashboard/")
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"
    assert "make console" in r.json()["detail"]
    assert c.get("/dashboard/assets/index-3f2a9c.js").status_code == 404
    # Built while the API runs: served from the next request.
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "index.html").write_text(INDEX)
    assert c.get("/dashboard/").status_code == 200


def test_the_console_is_not_in_the_openapi_document(dist: Path) -> None:
    paths = client_of(dist).get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/dashboard")]


def test_only_get_and_head(dist: Path) -> None:
    c = client_of(dist)
    assert c.head("/dashboard/").status_code == 200
    r = c.post("/dashboard/", json={})
    assert r.status_code == 405


def test_the_default_is_the_repositorys_frontend_dist() -> None:
    default = Settings().console_dir
    assert default == Path(__file__).resolve().parents[3] / "frontend" / "dist"
    assert default.is_absolute()


def test_a_symbolic_link_out_of_the_build_is_not_followed(dist: Path) -> None:
    (dist / "assets" / "leak-000.txt").symlink_to(dist.parent / "secret.txt")
    r = client_of(dist).get("/dashboard/assets/leak-000.txt")
    assert r.status_code == 404
    assert "outside the build" not in r.text


def test_a_revalidated_index_is_a_304_with_its_headers(dist: Path) -> None:
    c = client_of(dist)
    etag = c.get("/dashboard/").headers["etag"]
    again = c.get("/dashboard/", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["cache-control"] == "no-cache"
    assert again.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
