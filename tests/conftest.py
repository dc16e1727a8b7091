from __future__ import annotations

from pathlib import Path

import pytest

from ensemble.train import TrainConfig, train
from features.dataset import write_transactions
from synthetic.generator import GeneratorConfig, generate
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


@pytest.fixture(scope="session")
def history_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "history.parquet"
    write_transactions(generate(GeneratorConfig(days=30, cards=2_500, seed=5)), path)
    return path


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory, history_file: Path) -> Path:
    out = tmp_path_factory.mktemp("models") / "bundle"
    train(history_file, out, TrainConfig(n_estimators=60, isolation_trees=40))
    return out
