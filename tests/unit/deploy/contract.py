"""What the deployment files must agree with, read from the code itself: the CLI's
commands and options, the settings' environment names, the app's routes and the metrics
the code exports."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import typer.main

ROOT = Path(__file__).parents[3]
# Prometheus' own series (a scrape's health), usable beside the code's.
PROMETHEUS_SERIES = frozenset({"up"})


@cache
def settings_names() -> frozenset[str]:
    from app.settings import Settings

    return frozenset(f"FRAUD_{name.upper()}" for name in Settings.model_fields)


@cache
def cli_group() -> Any:
    """The `fraud` command as typer builds it (its own vendored click: duck-typed here)."""
    from cli.main import cli

    return typer.main.get_command(cli)


@cache
def cli_envvars() -> frozenset[str]:
    """Environment names the CLI's own options read (e.g. `fraud replay`'s FRAUD_API_KEY)."""
    found: set[str] = set()

    def walk(command: Any) -> None:
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            found.update([envvar] if isinstance(envvar, str) else envvar or [])
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(cli_group())
    return frozenset(found)


def environment_names() -> frozenset[str]:
    return settings_names() | cli_envvars()


def parse_cli(args: Sequence[str]) -> tuple[str, dict[str, object]]:
    """`fraud ARGS` parsed by the CLI itself, without running it: the command's name and
    its options' values. An unknown command, option or bad value raises click's error."""
    command, rest, names = cli_group(), list(args), []
    while hasattr(command, "commands"):
        assert rest, f"fraud {' '.join(names)}: no subcommand"
        assert rest[0] in command.commands, f"`fraud {' '.join(args)}`: no command {rest[0]!r}"
        names.append(rest[0])
        command, rest = command.commands[rest[0]], rest[1:]
    name = " ".join(names)
    with command.make_context(name, rest) as ctx:
        return name, dict(ctx.params)


@cache
def app_routes() -> frozenset[str]:
    from app.main import create_app
    from app.settings import Settings

    app = create_app(Settings(environment="test"))
    return frozenset(path for r in app.routes if (path := getattr(r, "path", None)))


@cache
def exported_metrics() -> frozenset[str]:
    """Every series name the processes export: each metric family registered in
    prometheus_client's default registry, with the suffixes of its type."""
    from prometheus_client import REGISTRY

    # Importing the modules registers their metrics: the API's and the consumer's.
    import app.lifespan
    import app.main  # noqa: F401
    import cli.consume  # noqa: F401
    import persistence.consumer
    import persistence.dispatcher
    import persistence.producer  # noqa: F401
    import scoring.telemetry  # noqa: F401
    from app.drift_metrics import DRIFT
    from app.queue_metrics import QUEUE

    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("_count", "_sum", "_created"),
        "gauge": ("",),
        "info": ("_info",),
    }
    names: set[str] = set()
    for family in [*REGISTRY.collect(), *QUEUE.describe(), *DRIFT.describe()]:
        names.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return frozenset(names)


PROMQL_WORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool"}
    | {"and", "or", "unless", "offset", "inf", "nan"}
)


def promql_metrics(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not its functions, labels or keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w.:])([A-Za-z_:][A-Za-z0-9_:]*)(?![\w:])(?!\s*\()", text):
        if match.group(1).lower() not in PROMQL_WORDS:
            names.add(match.group(1))
    return names
