"""The window store's interface: what the scoring path needs of it (ScoringStore), and what
the rest of the API does with it (WindowStore). Implemented by RedisWindowStore on one
node (features/redis_store.py) and ClusterWindowStore on a Redis Cluster
(features/cluster_store.py); the scoring tests' store type-checks against ScoringStore.
Redis failures raise one of features.redis_store.STORE_ERRORS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from features.window_format import Event, WindowRead

# An answer stored for retries: the transaction's decision key, the stored value.
StoredAnswer = tuple[str, bytes]
# A label for the label windows: the transaction's entity values, its label member
# (window_format.label_member), when it became known (ms), whether it is fraud.
Label = tuple[dict[str, str], str, int, bool]


class ScoringStore(Protocol):
    async def read_and_record(
        self, events: Sequence[Event], responses: Sequence[StoredAnswer] = ()
    ) -> list[WindowRead]:
        """One round trip: store earlier answers for retries (the first one wins), then
        read every event's windows, labels, profiles and list hits and record it (events
        in order: each sees the ones before it), or tell a retry or a conflict."""
        ...

    def stored_answer(self, event: Event, body: bytes) -> StoredAnswer:
        """What is stored for retries of this event once it is answered with `body`."""
        ...

    async def save_responses(self, responses: Sequence[StoredAnswer]) -> None:
        """Store answers for retries without reading anything."""
        ...


class WindowStore(ScoringStore, Protocol):
    prefix: str

    async def load_script(self) -> None:
        """Load the store's scripts (also done on first use, and again after a flush)."""
        ...

    async def warm(self, connections: int) -> None:
        """Open this many connections ahead of the first requests."""
        ...

    async def ping(self) -> bool: ...

    async def record_label(
        self, entities: dict[str, str], member: str, known_at_ms: int, fraud: bool
    ) -> None: ...

    async def record_labels(self, labels: Sequence[Label]) -> None:
        """Fraud joins its entities' label windows, legitimate leaves them; all applied or
        (on a failure the caller retries) each idempotent."""
        ...

    async def was_recorded(self, scope: str, transaction_id: str) -> bool:
        """Whether this transaction id was scored in this scope within the retry window."""
        ...
