from __future__ import annotations

from pathlib import Path

import pytest

from ensemble.train import TrainConfig, train
from features.dataset import write_transactions
from synthetic.generator import GeneratorConfig, generate
from tests.fixture_cache import built
from tests.servers import SHARED

pytest_plugins = ["tests.kafka"]  # the `kafka` fixture: Apache Kafka clusters of a test's own


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-contract",
        action="store_true",
        help="write tests/contract/ from the code in the tree (tests/score_contract.py)",
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    SHARED.stop()


HISTORY = GeneratorConfig(days=30, cards=2_500, seed=5)
BUNDLE = TrainConfig(n_estimators=60, isolation_trees=40, budget_s=0)
# Another model of the same history (other seed and trees): a challenger for the bundle.
CHALLENGER = TrainConfig(seed=11, n_estimators=30, max_depth=4, isolation_trees=20, budget_s=0)


@pytest.fixture(scope="session")
def history_file() -> Path:
    return (
        built(
            "history",
            repr(HISTORY),
            lambda out: write_transactions(generate(HISTORY), out / "history.parquet"),
        )
        / "history.parquet"
    )


@pytest.fixture(scope="session")
def bundle_dir(history_file: Path) -> Path:
    return (
        built(
            "bundle",
            repr(BUNDLE),
            lambda out: train(history_file, out / "bundle", BUNDLE),
        )
        / "bundle"
    )


@pytest.fixture(scope="session")
def challenger_dir(history_file: Path) -> Path:
    """A second bundle, its own version and scores, to serve as the challenger."""
    return (
        built(
            "challenger",
            repr(CHALLENGER),
            lambda out: train(history_file, out / "bundle", CHALLENGER),
        )
        / "bundle"
    )
