"""The query parameters of every keyset-paginated list (transactions, lists, cases), and
the one refusal of a cursor this API did not issue."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from app.errors import ValidationFailed
from app.schemas.fields import Cursor, DecimalInt

Limit = Annotated[DecimalInt, Query(ge=1, le=500, description="decimal digits")]
PageCursor = Annotated[Cursor | None, Query(description="`next_cursor` of the previous page")]


def bad_cursor(exc: Exception) -> ValidationFailed:
    return ValidationFailed([{"field": "query.cursor", "message": str(exc), "type": "cursor"}])
