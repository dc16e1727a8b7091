"""Rules as the fraud team writes them, and a version's rules compiled once and evaluated
on a whole batch: per row, the rules that matched, in priority order."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from controls.columns import Columns
from controls.expression import Condition, ExpressionError, compile_condition
from controls.hits import RuleHit
from controls.probe import probe
from controls.program import RuleProgram
from vocabulary import DECISIONS, RAISE_TO, RULE_MODES, TIERS

RULE_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
ACTIONS: tuple[str, ...] = (*DECISIONS, *(f"{RAISE_TO}{tier}" for tier in TIERS))
MAX_DESCRIPTION = 1_000
# How a rule's condition text becomes a Condition: compile_condition, or a cache of it.
Compile = Callable[[str], Condition]
# Told of each rule that raised while a batch was evaluated (the rule held nowhere).
OnError = Callable[["Rule", Exception], None]


class RuleError(ValueError):
    """A rule that cannot be used: `field` names what is wrong (id, condition, action, mode,
    priority, description); `position` is the offset in the condition where it applies."""

    def __init__(
        self, field: str, message: str, position: int | None = None, rule_id: str | None = None
    ) -> None:
        super().__init__(
            f"rule {rule_id!r}: {field}: {message}" if rule_id else f"{field}: {message}"
        )
        self.field = field
        self.message = message
        self.position = position
        self.rule_id = rule_id


def check_id(rule_id: str) -> str:
    if not isinstance(rule_id, str) or not RULE_ID.fullmatch(rule_id):
        raise RuleError("id", f"{rule_id!r} is not 1-64 characters of [A-Za-z0-9_.-]")
    return rule_id


def check_action(action: str) -> str:
    """approve, review, decline or raise_to:<tier>."""
    if action not in ACTIONS:
        if isinstance(action, str) and action.startswith(RAISE_TO):
            raise RuleError(
                "action",
                f"{action[len(RAISE_TO) :]!r} is not a risk tier; tiers are {', '.join(TIERS)}",
            )
        raise RuleError(
            "action",
            f"{action!r} is not one of {', '.join(DECISIONS)} or {RAISE_TO}<tier>",
        )
    return action


def check_mode(mode: str) -> str:
    if mode not in RULE_MODES:
        raise RuleError("mode", f"{mode!r} is not one of {', '.join(RULE_MODES)}")
    return mode


def check_condition(condition: str) -> Condition:
    """The compiled condition, evaluated once on the probe batch (controls.probe): a
    condition whose evaluation raises is refused like one that does not compile."""
    try:
        compiled = compile_condition(condition)
    except ExpressionError as exc:
        raise RuleError("condition", exc.message, exc.position) from exc
    try:
        probe(compiled)
    except Exception as exc:  # whatever evaluation raises: the rule must not reach scoring
        raise RuleError(
            "condition", f"cannot be evaluated ({type(exc).__name__}: {exc})"[:500], 0
        ) from exc
    return compiled


@dataclass(frozen=True)
class Rule:
    """One rule of the fraud team. `priority`: lower is evaluated (and wins) first."""

    id: str
    description: str
    condition: str
    action: str
    mode: str
    priority: int
    version: int = 0

    def check(self, compiler: Compile = check_condition) -> Condition:
        """The compiled condition; RuleError naming the first field that is wrong.
        `compiler`: check_condition or a cache of it."""
        try:
            check_id(self.id)
            if not isinstance(self.description, str) or len(self.description) > MAX_DESCRIPTION:
                raise RuleError(
                    "description", f"must be text of at most {MAX_DESCRIPTION} characters"
                )
            check_action(self.action)
            check_mode(self.mode)
            if isinstance(self.priority, bool) or not isinstance(self.priority, int):
                raise RuleError("priority", f"{self.priority!r} is not an integer")
            return compiler(self.condition)
        except RuleError as exc:
            raise RuleError(exc.field, exc.message, exc.position, _printable(self.id)) from exc


def _printable(rule_id: object) -> str:
    return rule_id if isinstance(rule_id, str) else repr(rule_id)


class RuleSet:
    """A version's rules, each condition compiled once, sorted by (priority, id)."""

    __slots__ = ("_conditions", "_hits", "_program", "names", "rules", "version")

    def __init__(
        self, rules: Sequence[Rule], conditions: Sequence[Condition], version: int
    ) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._conditions = tuple(conditions)
        self._program = RuleProgram(self._conditions)
        self._hits = tuple(RuleHit(r.id, r.action, r.mode) for r in self.rules)
        self.version = version
        self.names: frozenset[str] = frozenset().union(*(c.names for c in conditions))

    @classmethod
    def compile(
        cls, rules: Sequence[Rule], version: int, compiler: Compile = check_condition
    ) -> RuleSet:
        """RuleError naming the rule and field of the first rule that is wrong. `compile`:
        `compiler`: check_condition, or a cache of it (a new version compiles only what changed)."""
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise RuleError("id", "appears twice in the rule set", rule_id=rule.id)
            seen.add(rule.id)
        ordered = sorted(rules, key=lambda r: (r.priority, r.id))
        return cls(ordered, [rule.check(compiler) for rule in ordered], version)

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def operations(self) -> int:
        """The operations its conditions apply to each batch, summed over the rules."""
        return sum(c.operations for c in self._conditions)

    def evaluate(
        self, columns: Columns, on_error: OnError | None = None
    ) -> list[tuple[RuleHit, ...]]:
        """Per row of the batch, the rules (active and shadow) whose condition holds, in
        priority order. Rows that match nothing share one empty tuple. With `on_error`, a
        rule whose evaluation raises holds nowhere in this batch and is told to it; the
        others are evaluated as usual. Without, the error is raised."""
        n = columns.rows
        if not self._conditions or n == 0:
            return [()] * n
        matched = self.matrix(columns, on_error)
        out: list[tuple[RuleHit, ...]] = [()] * n
        rows, rules = np.nonzero(matched.T)  # by row, then by rule: priority order
        if not len(rows):
            return out
        hits = self._hits
        current, found = -1, list[RuleHit]()
        for j, i in zip(rows.tolist(), rules.tolist(), strict=True):
            if j != current:
                if found:
                    out[current] = tuple(found)
                current, found = j, []
            found.append(hits[i])
        out[current] = tuple(found)
        return out

    def matrix(self, columns: Columns, on_error: OnError | None = None) -> np.ndarray:
        """(rules x rows) booleans: whether rule i (in priority order) holds for row j."""
        with np.errstate(all="ignore"):  # overflow, division by zero: inf / missing
            try:
                return self._program.matrix(columns)
            except Exception:
                if on_error is None:
                    raise
                return self._one_by_one(columns, on_error)

    def _one_by_one(self, columns: Columns, on_error: OnError) -> np.ndarray:
        """The program raised: each rule alone, so only the one that raises is left out
        (the program shares operands between rules, so it cannot tell which one)."""
        out = np.zeros((len(self.rules), columns.rows), dtype=bool)
        for i, (rule, condition) in enumerate(zip(self.rules, self._conditions, strict=True)):
            try:
                out[i] = condition.evaluate_unguarded(columns)
            except Exception as exc:
                on_error(rule, exc)
        return out
