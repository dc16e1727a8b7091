"""Which event times the service trusts.

Every window is read at a request's own event time, and each write trims the windows it
touches. A time the client chose freely would let one request move those horizons: a
single POST dated 9999 used to trim a card's whole history away before the real charge.

- `live` (the default): a timestamp more than `max_skew_ms` ahead of the server's clock,
  or more than `max_age_ms` behind it, is refused (the HTTP adapter answers 422 naming
  `timestamp`); and the window store never trims past the server's clock (see
  features/redis_store.py), so even an accepted time a little ahead of it moves no horizon
  beyond the newest trusted instant.
- `replay`: any time is accepted and trimming follows each event's own time, as the
  offline replay does: for replaying a history through the API (the parity tests,
  backfills). Settings refuse it in production.
"""

from __future__ import annotations

from dataclasses import dataclass


class EventTimeRefused(ValueError):
    """A live request's timestamp is outside the trusted bounds around the server's clock."""


@dataclass(frozen=True, slots=True)
class EventTimePolicy:
    replay: bool = False
    max_skew_ms: int = 300_000
    max_age_ms: int = 86_400_000

    def check(self, ts_ms: int, now_ms: int) -> None:
        """Raises EventTimeRefused unless `ts_ms` is trusted at `now_ms` (server clock)."""
        if self.replay:
            return
        if ts_ms > now_ms + self.max_skew_ms:
            raise EventTimeRefused(
                f"is {(ts_ms - now_ms) / 1000:.0f} s ahead of the server's clock; at most "
                f"{self.max_skew_ms / 1000:g} s is accepted (FRAUD_MAX_CLOCK_SKEW_S)"
            )
        if ts_ms < now_ms - self.max_age_ms:
            raise EventTimeRefused(
                f"is {(now_ms - ts_ms) / 1000:.0f} s behind the server's clock; at most "
                f"{self.max_age_ms / 1000:g} s is accepted (FRAUD_MAX_EVENT_AGE_S)"
            )
