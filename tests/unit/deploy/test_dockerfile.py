"""The Dockerfile against the code (no Docker engine runs here): its stages, user, health
check, entry point, what it copies, and what it must never hold."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field

import pytest

from tests.unit.deploy.contract import ROOT, app_routes, environment_names


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def stages() -> list[Stage]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    found: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else str(len(found))
            found.append(Stage(name, parts[0]))
        else:
            found[-1].instructions.append((keyword, args.strip()))
    return found


def stage(name: str) -> Stage:
    return next(s for s in stages() if s.name == name)


def env_of(args: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in shlex.split(args))


def test_multi_stage_console_wheel_and_slim_runtime_last() -> None:
    names = [s.name for s in stages()]
    assert names[-1] == "runtime", "the default target is the runtime image"
    assert stage("console").base.startswith("node:")
    assert any("npm ci" in r for r in stage("console").all("RUN"))
    assert any("npm run build" in r for r in stage("console").all("RUN"))
    assert any("pip wheel" in r for r in stage("build").all("RUN"))
    for name in ("build", "base"):
        assert re.fullmatch(r"python:3\.11-slim", stage(name).base), stage(name).base
    assert stage("runtime").base == "base"
    copied = " ".join(stage("runtime").all("COPY") + stage("base").all("COPY"))
    assert "--from=console" in copied
    assert "--from=build" in copied


def test_the_runtime_has_the_compiler_train_needs() -> None:
    """`fraud train` compiles the models with tl2cgen and gcc (ensemble/native.py), and the
    same image runs it: the compiler is in the shared base."""
    native = (ROOT / "ensemble/native.py").read_text()
    assert 'shutil.which("gcc")' in native
    installs = " ".join(stage("base").all("RUN"))
    assert re.search(r"apt-get install .*\bgcc\b", installs)
    assert "libc6-dev" in installs


@pytest.mark.parametrize("name", ["runtime", "locust"])
def test_runs_as_a_non_root_user(name: str) -> None:
    users = stage(name).all("USER")
    assert users, f"{name}: no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user.isdigit(), "a numeric uid lets Kubernetes check runAsNonRoot"
    assert f"--uid {user}" in " ".join(stage("base").all("RUN"))


def test_healthcheck_hits_the_liveness_route_on_the_served_port() -> None:
    (check,) = stage("runtime").all("HEALTHCHECK")
    path = re.search(r"http://127\.0\.0\.1:[^/]+(/[a-z]+)", check)
    assert path is not None, check
    assert path.group(1) == "/healthz"
    assert path.group(1) in app_routes()
    assert "FRAUD_PORT" in check  # the port the server binds (FRAUD_PORT)
    command = json.loads(check.split(" CMD ", 1)[1])  # the exec form: a JSON array
    assert command[:2] == ["python", "-c"]
    compile(command[2], "HEALTHCHECK", "exec")  # a Python that parses
    env = {k: v for e in stage("base").all("ENV") for k, v in env_of(e).items()}
    assert env["FRAUD_PORT"] in " ".join(stage("runtime").all("EXPOSE")).split()


def test_one_image_for_every_command() -> None:
    (entry,) = stage("runtime").all("ENTRYPOINT")
    assert json.loads(entry) == ["fraud"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "fraud" in scripts
    assert json.loads(stage("runtime").all("CMD")[-1]) == ["serve"]


def test_every_package_is_copied_and_every_copied_path_exists() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    sources: list[str] = []
    for s in stages():
        for args in s.all("COPY"):
            parts = [p for p in shlex.split(args) if not p.startswith("--")]
            if "--from=" not in args:
                sources += parts[:-1]
    copied = {src.rstrip("/").split("/")[0] for src in sources}
    # localservers/ starts the demo's and the tests' servers: the image uses real ones
    # (`fraud demo` there says what to install).
    assert packages - {"localservers"} <= copied, packages - copied
    assert "localservers" not in copied
    for src in sources:
        assert (ROOT / src.rstrip("/")).exists(), src


def test_dockerignore_sends_only_what_is_copied() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "everything is excluded first, then what the build needs"
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    for s in stages():
        for args in s.all("COPY"):
            if "--from=" in args:
                continue
            for src in [p for p in shlex.split(args) if not p.startswith("--")][:-1]:
                assert src.rstrip("/").split("/")[0] in allowed, src
    for secret in (".env", "*.env"):
        assert secret in rules
    assert not allowed & {"models", "data", "var", ".venv"}


def test_settings_names_exist_and_no_secret_is_baked() -> None:
    for s in stages():
        for args in s.all("ENV"):
            for name in env_of(args):
                if name.startswith("FRAUD_"):
                    assert name in environment_names(), name
                assert not re.search(r"KEY|SECRET|PASSWORD|TOKEN", name), name
        for args in s.all("ARG"):
            assert not re.search(r"KEY|SECRET|PASSWORD|TOKEN", args), args
        for args in s.all("COPY") + s.all("ADD"):
            assert not re.search(r"\b(models|data)\b|\.env", args), args


def test_read_only_root_filesystem_writes_only_to_volumes_and_tmp() -> None:
    """Every path the settings write (the spool, the model and data directories) sits in a
    declared volume; caches and compiler scratch go to /tmp (a tmpfs), nothing to $HOME."""
    env = {k: v for e in stage("base").all("ENV") for k, v in env_of(e).items()}
    (volumes,) = stage("runtime").all("VOLUME")
    mounts = json.loads(volumes)
    for name in ("FRAUD_SPOOL_PATH", "FRAUD_MODEL_DIR", "FRAUD_DATA_DIR"):
        assert any(env[name] == m or env[name].startswith(m + "/") for m in mounts), name
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["MPLCONFIGDIR"].startswith("/tmp/")
    assert env["HOME"] == "/tmp"


def test_the_feature_kernel_is_built_from_source_in_the_build_stage_only() -> None:
    """native/ (Rust) becomes a wheel beside the package's, with its crates from
    Cargo.lock and a toolchain recent enough for its crate; the runtime gets the
    virtual environment, never the toolchain."""
    build = stage("build")
    runs = " ".join(build.all("RUN"))
    assert re.search(r"maturin build .*--locked", runs)
    assert "--manifest-path native/Cargo.toml" in runs
    assert re.search(r"pip install -c requirements\.lock maturin", runs)  # the locked maturin
    assert re.search(r"apt-get install .*\bgcc\b", runs)  # cargo's linker
    copies = build.all("COPY")
    assert any(shlex.split(c)[:2] == ["native", "native"] for c in copies)
    toolchain = [c for c in copies if "--from=rust" in c]
    assert {shlex.split(c)[-1] for c in toolchain} == {"/usr/local/rustup", "/usr/local/cargo"}
    rust = stage("rust").base
    version = re.fullmatch(r"rust:(\d+)\.(\d+)-slim", rust)
    assert version is not None, rust
    crate = tomllib.loads((ROOT / "native/Cargo.toml").read_text())["package"]
    needed = tuple(int(p) for p in crate["rust-version"].split(".")[:2])
    assert (int(version.group(1)), int(version.group(2))) >= needed
    # Both wheels are installed together: the package requires the kernel.
    assert "/dist/*.whl" in runs
    for name in ("base", "runtime", "locust"):
        for args in stage(name).all("COPY"):
            assert "--from=rust" not in args
            if "--from=build" in args:
                assert shlex.split(args)[1:] == ["/opt/fraud", "/opt/fraud"], args
