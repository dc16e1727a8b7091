"""The checks the deployment tests rest on catch what they are for: a command or option
the CLI does not have, a value it refuses, a metric the code does not export."""

from __future__ import annotations

import pytest

from tests.unit.deploy.contract import (
    environment_names,
    exported_metrics,
    parse_cli,
    promql_metrics,
)


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--prot", "8000"],  # a misspelt option
        ["serve", "--port", "eighty"],  # a value of the wrong type
        ["generate", "--days", "0", "--out", "x.parquet"],  # below the option's minimum
        ["consumer"],  # no such command
        ["rules"],  # a group without its subcommand
        ["rules", "apply"],
    ],
)
def test_parse_cli_refuses_what_fraud_would_refuse(args: list[str]) -> None:
    with pytest.raises(Exception):  # noqa: B017,PT011  (click's errors, or an assertion)
        parse_cli(args)


def test_parse_cli_reads_commands_of_groups_and_their_options() -> None:
    assert (
        parse_cli(["rules", "backtest", "--data", "x.csv", "--condition", "amount > 1"])[1][
            "action"
        ]
        == "review"
    )
    assert parse_cli(["serve", "--port", "8001"]) == (
        "serve",
        {"host": None, "port": 8001, "workers": None, "model": None, "local": False},
    )


def test_names_come_from_the_settings_and_the_cli() -> None:
    assert {"FRAUD_REDIS_URL", "FRAUD_CONSUMER_METRICS_PORT", "FRAUD_API_KEY"} <= (
        environment_names()
    )
    assert "FRAUD_REDIS_HOST" not in environment_names()


def test_promql_names_are_metrics_not_functions_labels_or_keywords() -> None:
    expr = (
        'sum by (le, instance) (rate(fraud_score_latency_seconds_bucket{le="+Inf"}[5m]))'
        " / on (instance) group_left clamp_min(sum(fraud_decisions_total offset 1h), 1e-9)"
    )
    assert promql_metrics(expr) == {"fraud_score_latency_seconds_bucket", "fraud_decisions_total"}
    assert "fraud_decisions_total" in exported_metrics()
    assert "fraud_decisions" not in exported_metrics()  # a counter's series end in _total
