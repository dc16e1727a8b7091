from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.pg import drop_schema


@pytest.fixture
def schema() -> Iterator[str]:
    """A PostgreSQL schema of this test's own, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name
    drop_schema(name)
