"""The Locust swarm: `make perf` runs it headless at 1000 users (see loadtest/run_perf.py)."""

from loadtest.scenarios.card_testing import CardTestingUser
from loadtest.scenarios.gateway import GatewayUser

__all__ = ["CardTestingUser", "GatewayUser"]
