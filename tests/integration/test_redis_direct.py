"""The window store's own connections (features/redis_direct.py) on a real Redis: replies,
error replies, a command cut off by its caller, a restarted server, and the pool's close
closing them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from app.lifespan import redis_client
from app.settings import Settings
from features.redis_direct import DirectCommands
from localservers import RedisServer


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.cleanup()


def client_of(url: str) -> aioredis.Redis:
    """The API's own client (its pool, its connection class and timeouts)."""
    client = redis_client(Settings(environment="test", redis_url=url))
    assert isinstance(client, aioredis.Redis)
    return client


def test_replies_and_error_replies_on_held_connections(own_redis: RedisServer) -> None:
    async def run() -> None:
        client = client_of(own_redis.url)
        commands = DirectCommands(client.connection_pool)
        try:
            await commands.open(2)
            assert await commands.execute("SET", "k", b"\x00v") == b"OK"  # replies as sent: raw
            assert await commands.execute("GET", "k") == b"\x00v"
            assert await commands.execute("INCRBY", "n", 5) == 5
            with pytest.raises(NoScriptError):
                await commands.execute("EVALSHA", "0" * 40, 0)
            assert await commands.execute("GET", "k") == b"\x00v"  # the connection still works
            # Concurrent commands each get their own connection, and their own reply.
            replies = await asyncio.gather(*(commands.execute("INCRBY", "n", 1) for _ in range(20)))
            assert sorted(replies) == list(range(6, 26))
        finally:
            await client.aclose()

    asyncio.run(run())


def test_a_command_cut_off_leaves_no_reply_for_the_next(own_redis: RedisServer) -> None:
    async def run() -> None:
        client = client_of(own_redis.url)
        commands = DirectCommands(client.connection_pool)
        try:
            await commands.open(1)
            with pytest.raises(TimeoutError):  # the caller's budget, as the scoring service's
                await asyncio.wait_for(commands.execute("BLPOP", "empty", 2), 0.05)
            await client.rpush("empty", b"late")  # what the cut-off command would have read
            assert await commands.execute("PING") == b"PONG"
            assert await client.lpop("empty") == b"late"  # nobody took it
        finally:
            await client.aclose()

    asyncio.run(run())


def test_a_restarted_server_is_reached_again_without_an_error(own_redis: RedisServer) -> None:
    async def run() -> None:
        client = client_of(own_redis.url)
        commands = DirectCommands(client.connection_pool)
        try:
            await commands.open(1)
            assert await commands.execute("SET", "k", 1) == b"OK"
            own_redis.stop()
            own_redis.start()  # the held connection is closed by the old server
            assert await commands.execute("PING") == b"PONG"
        finally:
            await client.aclose()

    asyncio.run(run())


def test_the_pool_closes_the_held_connections(own_redis: RedisServer) -> None:
    async def run() -> int:
        client = client_of(own_redis.url)
        commands = DirectCommands(client.connection_pool)
        await commands.open(3)
        await commands.execute("PING")
        await client.aclose()
        inspector = aioredis.Redis.from_url(own_redis.url)
        try:
            clients: int = (await inspector.info("clients"))["connected_clients"]
        finally:
            await inspector.aclose()
        return clients

    assert asyncio.run(run()) == 1  # the inspector alone
