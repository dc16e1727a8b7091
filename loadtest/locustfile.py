"""The Locust swarm: `make perf` runs it headless at 1000 users (see loadtest/run_perf.py)."""

from typing import Any

from locust import events

from loadtest.scenarios.card_testing import CardTestingUser
from loadtest.scenarios.gateway import GatewayUser
from loadtest.scenarios.traffic import rows

__all__ = ["CardTestingUser", "GatewayUser"]


@events.init.add_listener
def load_traffic(**_kwargs: Any) -> None:
    """Read the generated transactions before any user starts: read lazily by the first
    user, the file held Locust's only thread for a second or more, and every request in
    flight then was timed as if the server had been that slow."""
    rows()
