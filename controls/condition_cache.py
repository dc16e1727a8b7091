"""Compiled conditions by their text, so that a rule set's new version compiles (and probes)
only the conditions the previous one did not have: compiling a long condition takes
milliseconds of pure Python, and a version changes one rule at a time."""

from __future__ import annotations

from collections.abc import Iterable

from controls.expression import Condition
from controls.ruleset import check_condition


class ConditionCache:
    """check_condition, remembered. A refusal is not kept (it raises each time). At most
    `limit` conditions are kept: past it the cache starts again (a rule set holds at most
    FRAUD_MAX_RULES, and `retain` drops the others at each version)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._compiled: dict[str, Condition] = {}

    def __call__(self, text: str) -> Condition:
        got = self._compiled.get(text)
        if got is None:
            got = check_condition(text)
            if len(self._compiled) >= self.limit:
                self._compiled = {}
            self._compiled[text] = got
        return got

    def retain(self, texts: Iterable[str]) -> None:
        """Keep only these conditions (the rule set in service)."""
        keep = set(texts)
        self._compiled = {t: c for t, c in self._compiled.items() if t in keep}

    def __len__(self) -> int:
        return len(self._compiled)
