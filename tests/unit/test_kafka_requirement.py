"""Where Java or Maven is missing, the real-Kafka tests skip, except under CI=true, where
that is a failure: CI always runs them."""

from __future__ import annotations

import pytest

import tests.kafka


def test_missing_java_skips_on_a_laptop_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tests.kafka, "missing_tools", lambda: ["Java 17+ (found 11)"])
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs Java 17"):
        tests.kafka.require_kafka()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="missing under CI=true"):
        tests.kafka.require_kafka()
