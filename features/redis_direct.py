"""Commands on connections the window store keeps for itself, sent without redis-py's
per-command layers.

`Redis.execute_command` takes a connection from the pool and gives it back around every
command (a condition, a lock, a timeout, a check that the socket has nothing to read,
observability hooks) and retries through a closure: about 420,000 instructions for one
EVALSHA whose reply is `1`, against 185,000 for the same command written and read on a
connection held (docs/performance.md). The store's commands are few and large (one script
call per batch), so it holds its connections: taken from the client's pool once (so the
pool's own close closes them), each used by one command at a time, and as many as commands
in flight at once (the scoring service bounds them). Each keeps the pool's socket timeout
on its writes and reads.
"""

from __future__ import annotations

from typing import Any

import hiredis
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

Argument = bytes | str | int


class DirectCommands:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self._idle: list[AbstractConnection] = []

    async def execute(self, *args: Argument) -> Any:
        """The reply to one command (arguments as bytes, str or int: packed by hiredis).
        A reply that is an error raises it (ResponseError, e.g. NoScriptError). A connection
        the server closed (it restarted) is opened again and the command sent once more, as
        redis-py's own retry does."""
        packed = [hiredis.pack_command(args)]  # type: ignore[arg-type]  # the stub: one item
        connection = self._idle.pop() if self._idle else await self._take()
        try:
            try:
                return await self._send(connection, packed)
            except RedisConnectionError:
                await connection.disconnect(nowait=True)
                return await self._send(connection, packed)  # it connects again first
        except ResponseError:
            raise  # the reply was read whole: the connection is fine
        except BaseException:
            # A reply may still be on its way (a timeout, a cancelled caller): the next
            # command must not read it.
            await connection.disconnect(nowait=True)
            raise
        finally:
            self._idle.append(connection)

    @staticmethod
    async def _send(connection: AbstractConnection, packed: list[bytes]) -> Any:
        # The write runs under the socket timeout in a task of its own (redis-py's): a reply
        # that arrived while the process was busy is then read before the caller's budget
        # expires (tests/integration/test_score_api.py), as through execute_command.
        await connection.send_packed_command(packed, check_health=False)
        return await connection.read_response()

    async def _take(self) -> AbstractConnection:
        return await self.pool.get_connection()

    async def open(self, count: int) -> None:
        """Hold `count` connections, connected, ready for the first commands."""
        while len(self._idle) < count:
            self._idle.append(await self._take())  # the pool connects it
