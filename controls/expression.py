"""The rule condition language: a small grammar of our own on lark, type-checked at compile
time and compiled once into a tree of closures over numpy operations on a whole batch.

User text is never handed to Python's eval, compile or ast. docs/rules.md is the reference.
"""
# The grammar and its syntax errors are in controls/grammar.py; the types and their checks,
# and the closures, here.

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import lark
import numpy as np

from controls.columns import Columns
from controls.grammar import MAX_LENGTH, ExpressionError, parse
from controls.names import BOOLEAN, FEATURES, NUMBER, RISK_TIER, STRING, TIER, TYPES
from features.values import normalised_text
from vocabulary import TIERS

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_OPERATIONS",
    "Condition",
    "ExpressionError",
    "Operand",
    "compile_condition",
]

# Levels of nesting, of the grammar's and of evaluation's: each level of evaluation is a few
# Python frames deep (a node's closure and its cache), so 48 levels stay far below the
# interpreter's recursion limit whatever the caller's own stack.
MAX_DEPTH = 48
# Operations (operators, comparisons, membership tests, and/or/not) one condition applies
# to a batch: what one rule may cost each batch, whatever its text.
MAX_OPERATIONS = 500
# A list this long or shorter is tested with one comparison per item (cheaper than np.isin
# on the few rows of a request batch).
SHORT_LIST = 8
# Names whose value is never missing (required request fields, the model's outputs).
ALWAYS_PRESENT = frozenset(
    {"amount", "currency", "channel", "merchant_category", "card_id", "merchant_id"}
    | {"score", "xgboost", "isolation_forest", RISK_TIER}
)

Values = Any  # a numpy array over the batch's rows, or a scalar for a constant
_CONSTANT = object()


@dataclass(frozen=True, slots=True)
class _Node:
    kind: str  # NUMBER, STRING, BOOLEAN or TIER
    start: int
    end: int
    key: str  # canonical text: equal keys compute equal values (shared through the cache)
    names: frozenset[str] = frozenset()
    fn: Callable[[Columns], Values] | None = None  # None: a constant
    value: Any = _CONSTANT
    missing: bool = False  # whether some row's value may be missing (NaN / None)
    literal: bool = False  # written as a literal (tier comparisons take only literals)
    # An `and` node's operands (nested ones flattened), which a RuleSet evaluates together.
    conjuncts: tuple[_Node, ...] = ()
    # `name op number` on a numeric column (the rank for risk_tier): (name, op, number).
    atom: tuple[str, str, float] | None = None
    depth: int = 0  # nested calls evaluation makes (0: a constant)
    operations: int = 0  # operations evaluation applies to a batch

    def at(self, columns: Columns) -> Values:
        return self.value if self.fn is None else self.fn(columns)


Operand = _Node  # an operand of a condition's top-level `and`, as RuleProgram reads it


@dataclass(frozen=True)
class Condition:
    """A compiled condition: `evaluate` gives one boolean per row of a batch."""

    text: str
    names: frozenset[str]
    _root: _Node = field(repr=False)

    @property
    def operations(self) -> int:
        """The operations one evaluation applies to a batch (at most MAX_OPERATIONS)."""
        return self._root.operations

    def evaluate(self, columns: Columns) -> np.ndarray:
        with np.errstate(all="ignore"):  # overflow and division by zero give inf / missing
            return self.evaluate_unguarded(columns)

    @property
    def conjuncts(self) -> tuple[_Node, ...] | bool:
        """The operands of the condition's top `and` (the condition itself if it is not an
        `and`), or its value if it is constant."""
        root = self._root
        if root.fn is None:
            return bool(root.value)
        return root.conjuncts or (root,)

    def evaluate_unguarded(self, columns: Columns) -> np.ndarray:
        """evaluate without its np.errstate (RuleSet sets it once for all its rules)."""
        out = self._root.at(columns)
        if isinstance(out, np.ndarray) and out.shape == (columns.rows,):
            return out
        return np.full(columns.rows, bool(out))


def compile_condition(text: str) -> Condition:
    """Parse and type-check `text` once; raises ExpressionError naming the position."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"condition is {len(text):,} characters long; at most {MAX_LENGTH:,} at {MAX_LENGTH}",
            MAX_LENGTH,
            text,
        )
    if not text.strip():
        raise ExpressionError("empty condition at 0", 0, text)
    tree = parse(text)
    root = _Compiler(text).node(tree, 0)
    if root.operations > MAX_OPERATIONS:
        raise ExpressionError(
            f"condition applies {root.operations:,} operations; at most {MAX_OPERATIONS:,} at 0",
            0,
            text,
        )
    if root.kind != BOOLEAN:
        raise ExpressionError(
            f"a condition must be true or false; {_quote(text, root)} at {root.start} is "
            f"{_a(root.kind)}{_hint(text, root)}",
            root.start,
            text,
        )
    return Condition(text, root.names, root)


def _a(kind: str) -> str:
    return {NUMBER: "a number", STRING: "a string", BOOLEAN: "true/false", TIER: "a risk tier"}[
        kind
    ]


_PLURAL = {NUMBER: "numbers", STRING: "strings", BOOLEAN: "true/false values", TIER: "tiers"}


def _quote(text: str, node: _Node) -> str:
    return repr(text[node.start : node.end])


def _hint(text: str, node: _Node) -> str:
    if node.kind == NUMBER and node.fn is not None and node.key in TYPES:
        return f" (compare it, e.g. {node.key} == 1 or {node.key} > 0)"
    return ""


# Scalar-or-array operations. NaN is missing: numpy's <, <=, >, >=, == are already false on
# it; != and `not in` also require both sides present.
_ORDER = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


def _present(values: Values) -> Values:
    if isinstance(values, np.ndarray) and values.dtype == object:
        present: np.ndarray = values != None  # noqa: E711 - elementwise on an object array
        return present
    return values == values  # false for NaN


def _divide(a: Values, b: Values) -> Values:
    return np.where(np.asarray(b) == 0, np.nan, np.true_divide(a, b))


_ARITHMETIC: dict[str, Callable[[Values, Values], Values]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": _divide,
}


class _Compiler:
    def __init__(self, text: str) -> None:
        self.text = text

    def error(self, message: str, pos: int) -> ExpressionError:
        return ExpressionError(message, pos, self.text)

    def node(self, tree: lark.Tree | lark.Token, depth: int) -> _Node:
        if depth > MAX_DEPTH:
            start = (tree.start_pos if isinstance(tree, lark.Token) else tree.meta.start_pos) or 0
            raise self.error(f"condition nested deeper than {MAX_DEPTH} levels at {start}", start)
        if isinstance(tree, lark.Token):  # pragma: no cover - every token sits in a rule
            raise self.error(f"unexpected {tree!s} at {tree.start_pos}", tree.start_pos or 0)
        build = getattr(self, f"_{tree.data}")
        node: _Node = build(tree, depth + 1)
        return node

    # leaves

    def _number(self, tree: lark.Tree, depth: int) -> _Node:
        token = _kids(tree)[0]
        value = float(token)
        if not math.isfinite(value):
            raise self.error(
                f"number {token!s} is out of range at {token.start_pos}", token.start_pos
            )
        return _Node(NUMBER, token.start_pos, token.end_pos, repr(value), value=value, literal=True)

    def _string(self, tree: lark.Tree, depth: int) -> _Node:
        token = _kids(tree)[0]
        value = _unquote(str(token))
        return _Node(STRING, token.start_pos, token.end_pos, repr(value), value=value, literal=True)

    def _true(self, tree: lark.Tree, depth: int) -> _Node:
        token = _kids(tree)[0]
        return _Node(BOOLEAN, token.start_pos, token.end_pos, "True", value=True, literal=True)

    def _false(self, tree: lark.Tree, depth: int) -> _Node:
        token = _kids(tree)[0]
        return _Node(BOOLEAN, token.start_pos, token.end_pos, "False", value=False, literal=True)

    def _name(self, tree: lark.Tree, depth: int) -> _Node:
        token = _kids(tree)[0]
        name = str(token)
        kind = TYPES.get(name)
        if kind is None:
            close = difflib.get_close_matches(name, TYPES, n=1, cutoff=0.7)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise self.error(f"unknown name {name!r} at {token.start_pos}{hint}", token.start_pos)

        def column(c: Columns, name: str = name) -> Values:
            return c.column(name)

        return _Node(
            kind,
            token.start_pos,
            token.end_pos,
            name,
            frozenset({name}),
            column,
            missing=name not in ALWAYS_PRESENT,
            depth=1,
        )

    # arithmetic

    def _neg(self, tree: lark.Tree, depth: int) -> _Node:
        minus, operand = _kids(tree)
        x = self.node(operand, depth)
        if x.kind != NUMBER:
            raise self.error(
                f"'-' needs a number, not {_a(x.kind)}, at {minus.start_pos}", minus.start_pos
            )
        return self._combine(
            NUMBER, minus.start_pos, x.end, f"(-{x.key})", [x], np.negative, x.missing
        )

    def _sum(self, tree: lark.Tree, depth: int) -> _Node:
        return self._arithmetic(tree, depth)

    def _product(self, tree: lark.Tree, depth: int) -> _Node:
        return self._arithmetic(tree, depth)

    def _arithmetic(self, tree: lark.Tree, depth: int) -> _Node:
        # a op b op c ...: folded left to right, without a level per operator
        left = self.operand(_kids(tree)[0], depth, "arithmetic")
        for k in range(1, len(_kids(tree)), 2):
            op_token, right_tree = _kids(tree)[k], _kids(tree)[k + 1]
            op = str(op_token)
            right = self.node(right_tree, depth)
            for side in (left, right):
                if side.kind != NUMBER:
                    raise self.error(
                        f"{op!r} at {op_token.start_pos} needs numbers; {_quote(self.text, side)} "
                        f"is {_a(side.kind)}",
                        op_token.start_pos,
                    )
            left = self._combine(
                NUMBER,
                left.start,
                right.end,
                f"({left.key} {op} {right.key})",
                [left, right],
                _ARITHMETIC[op],
                left.missing or right.missing or op == "/",
            )
        return left

    def operand(self, tree: lark.Tree | lark.Token, depth: int, _: str) -> _Node:
        return self.node(tree, depth)

    # booleans

    def _or_expr(self, tree: lark.Tree, depth: int) -> _Node:
        return self._logical(tree, depth, "or", np.logical_or)

    def _and_expr(self, tree: lark.Tree, depth: int) -> _Node:
        return self._logical(tree, depth, "and", np.logical_and)

    def _logical(
        self, tree: lark.Tree, depth: int, word: str, op: Callable[[Values, Values], Values]
    ) -> _Node:
        parts = [c for c in _kids(tree) if not isinstance(c, lark.Token)]
        nodes = [self.node(p, depth) for p in parts]
        for n in nodes:
            if n.kind != BOOLEAN:
                raise self.error(
                    f"'{word}' needs true/false on both sides; {_quote(self.text, n)} at "
                    f"{n.start} is {_a(n.kind)}{_hint(self.text, n)}",
                    n.start,
                )
        constants = [n for n in nodes if n.fn is None]
        variables = [n for n in nodes if n.fn is not None]
        start, end = nodes[0].start, nodes[-1].end
        names = frozenset().union(*(n.names for n in nodes))
        key = "(" + f" {word} ".join(n.key for n in nodes) + ")"
        if constants:
            decided = (
                any(n.value for n in constants) if word == "or" else all(n.value for n in constants)
            )
            if word == "or" and decided:
                return _Node(BOOLEAN, start, end, "True", names, value=True)
            if word == "and" and not decided:
                return _Node(BOOLEAN, start, end, "False", names, value=False)
        if not variables:
            return _Node(BOOLEAN, start, end, key, names, value=word == "and")
        if len(variables) == 1:
            return replace(variables[0], start=start, end=end)
        fns = [n.fn for n in variables if n.fn is not None]
        first, rest = fns[0], fns[1:]

        def combined(c: Columns) -> Values:
            out = first(c)
            for f in rest:
                out = op(out, f(c))
            return out

        conjuncts: tuple[_Node, ...] = ()
        if word == "and":
            conjuncts = tuple(c for n in variables for c in (n.conjuncts or (n,)))
        return _Node(
            BOOLEAN,
            start,
            end,
            key,
            names,
            combined,
            conjuncts=conjuncts,
            depth=self.nested(variables, start),
            operations=len(variables) - 1 + sum(n.operations for n in variables),
        )

    def _not_(self, tree: lark.Tree, depth: int) -> _Node:
        word, operand = _kids(tree)
        x = self.node(operand, depth)
        if x.kind != BOOLEAN:
            raise self.error(
                f"'not' needs true/false; {_quote(self.text, x)} at {x.start} is {_a(x.kind)}"
                f"{_hint(self.text, x)}",
                x.start,
            )
        return self._combine(
            BOOLEAN, word.start_pos, x.end, f"(not {x.key})", [x], np.logical_not, False
        )

    # comparisons

    def _compare(self, tree: lark.Tree, depth: int) -> _Node:
        left_tree, op_token, right_tree = _kids(tree)
        op, pos = str(op_token), op_token.start_pos
        left, right = self.node(left_tree, depth), self.node(right_tree, depth)
        kinds = {left.kind, right.kind}
        if TIER in kinds:
            left, right = self._tiers(left, right, pos)
        elif len(kinds) > 1:
            hint = ""
            if kinds == {NUMBER, BOOLEAN}:
                hint = " (features are numbers: write 1 for true, 0 for false)"
            raise self.error(
                f"{op!r} at {pos} compares {_a(left.kind)} with {_a(right.kind)}: "
                f"{self.text[left.start : right.end]!r}{hint}",
                pos,
            )
        elif op not in ("==", "!=") and left.kind != NUMBER:
            raise self.error(
                f"{op!r} at {pos} orders numbers and risk tiers only, not {_PLURAL[left.kind]}; "
                f"use == or !=",
                pos,
            )
        compare = _ORDER[op]
        need_present = op == "!=" and (left.missing or right.missing)
        strings = left.kind == STRING
        key = f"({left.key} {op} {right.key})"
        fast = _column_against_constant(left, right, op, key, need_present)
        if fast is not None:
            return fast

        def raw(a: Values, b: Values) -> Values:
            out = compare(a, b)
            if need_present:
                out = out & _present(a) & _present(b)
            return out.astype(bool) if strings and isinstance(out, np.ndarray) else out

        return self._combine(
            BOOLEAN, left.start, right.end, key, [left, right], raw, False, shared=True
        )

    def _tiers(self, left: _Node, right: _Node, pos: int) -> tuple[_Node, _Node]:
        """risk_tier against risk_tier or a tier literal, both as the tier's rank."""
        out = []
        for side, other in ((left, right), (right, left)):
            if side.kind == TIER:
                out.append(side)
            elif side.kind == STRING and side.literal:
                out.append(self._tier_literal(side))
            else:
                raise self.error(
                    f"risk_tier at {pos} compares with a tier in quotes "
                    f"({', '.join(map(repr, TIERS))}), not {_a(side.kind)}: "
                    f"{self.text[min(side.start, other.start) : max(side.end, other.end)]!r}",
                    pos,
                )
        return out[0], out[1]

    def _tier_literal(self, node: _Node) -> _Node:
        if node.value not in TIERS:
            raise self.error(
                f"{node.value!r} at {node.start} is not a risk tier; tiers are {', '.join(TIERS)}",
                node.start,
            )
        rank = float(TIERS.index(node.value))
        return _Node(TIER, node.start, node.end, repr(node.value), value=rank, literal=True)

    def _in_(self, tree: lark.Tree, depth: int) -> _Node:
        left_tree, word, items = _kids(tree)
        return self._membership(left_tree, word.start_pos, items, depth, negated=False)

    def _not_in(self, tree: lark.Tree, depth: int) -> _Node:
        left_tree, word, _, items = _kids(tree)
        return self._membership(left_tree, word.start_pos, items, depth, negated=True)

    def _membership(
        self, left_tree: lark.Tree, pos: int, items: lark.Tree, depth: int, negated: bool
    ) -> _Node:
        left = self.node(left_tree, depth)
        word = "not in" if negated else "in"
        values = self._items(items)
        kinds = {kind for kind, _, _ in values}
        if len(kinds) > 1:
            raise self.error(
                f"the list of {word!r} at {pos} mixes {' and '.join(_PLURAL[k] for k in sorted(kinds))}",
                pos,
            )
        if left.kind == TIER:
            for kind, value, at in values:
                if kind != STRING or value not in TIERS:
                    raise self.error(
                        f"{value!r} at {at} is not a risk tier; tiers are {', '.join(TIERS)}", at
                    )
            members: list[Any] = [float(TIERS.index(v)) for _, v, _ in values]
            kind = NUMBER
        else:
            members = [v for _, v, _ in values]
            kind = left.kind
            if kinds and kinds != {left.kind}:
                raise self.error(
                    f"{word!r} at {pos} looks for {_a(left.kind)} in a list of "
                    f"{next(iter(kinds))}s",
                    pos,
                )
        test = _member_test(kind, members)
        need_present = negated and left.missing

        def raw(a: Values) -> Values:
            found = test(a)
            if negated:
                found = np.logical_not(found)
                if need_present:
                    found = found & _present(a)
            return found

        key = f"({left.key} {word} {sorted(map(repr, members))})"
        return self._combine(
            BOOLEAN, left.start, items.meta.end_pos, key, [left], raw, False, shared=True
        )

    def _items(self, items: lark.Tree) -> list[tuple[str, Any, int]]:
        out: list[tuple[str, Any, int]] = []
        for item in _kids(items):
            tokens = _kids(item)
            first = tokens[0]
            if first.type in ("MINUS", "NUMBER"):
                number = tokens[-1]
                value = float(number)
                if not math.isfinite(value):  # 1e999 reads as inf, -1e999 as -inf
                    raise self.error(
                        f"number {number!s} is out of range at {number.start_pos}",
                        number.start_pos,
                    )
                out.append((NUMBER, -value if first.type == "MINUS" else value, first.start_pos))
            elif first.type == "STRING":
                out.append((STRING, _unquote(str(first)), first.start_pos))
            else:
                out.append((BOOLEAN, first.type == "TRUE", first.start_pos))
        return out

    # shared

    def _combine(
        self,
        kind: str,
        start: int,
        end: int,
        key: str,
        parts: Sequence[_Node],
        op: Callable[..., Values],
        missing: bool,
        shared: bool = False,
    ) -> _Node:
        """A node applying `op` to its parts' values: folded now when they are constants;
        `shared` nodes are computed once per batch for every rule that has them."""
        names = frozenset().union(*(p.names for p in parts))
        if all(p.fn is None for p in parts):
            with np.errstate(all="ignore"):
                value = op(*(p.value for p in parts))
            if isinstance(value, np.generic):
                value = value.item()
            return _Node(kind, start, end, key, names, value=value, missing=missing)
        if len(parts) == 1:
            only = parts[0]

            def unary(c: Columns) -> Values:
                return op(only.at(c))

            fn = unary
        else:
            a, b = parts

            def binary(c: Columns) -> Values:
                return op(a.at(c), b.at(c))

            fn = binary
        if shared:
            compute = fn

            def cached(c: Columns) -> Values:
                return c.cached(key, compute)

            fn = cached
        return _Node(
            kind,
            start,
            end,
            key,
            names,
            fn,
            missing=missing,
            depth=self.nested(parts, start),
            operations=1 + sum(p.operations for p in parts),
        )

    def nested(self, parts: Sequence[_Node], start: int) -> int:
        """The depth of a node over `parts`; refused past MAX_DEPTH (a chain `a + b + c`
        nests one level per operator)."""
        depth = 1 + max(p.depth for p in parts)
        if depth > MAX_DEPTH:
            raise self.error(
                f"condition nests operations more than {MAX_DEPTH} deep at {start}; a long "
                "chain nests one level per operator: group it with parentheses, e.g. "
                "(a + b) + (c + d)",
                start,
            )
        return depth


_SWAPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def _column_against_constant(
    left: _Node, right: _Node, op: str, key: str, need_present: bool
) -> _Node | None:
    """`name op constant` (or `constant op name`), the commonest comparison, as one closure
    over a constant already of the column's type (a 0-d array compares fastest)."""
    if left.fn is None and right.fn is not None and len(right.names) == 1 and right.key in TYPES:
        return _column_against_constant(right, left, _SWAPPED[op], key, need_present)
    if not (left.key in TYPES and right.fn is None) or (need_present and left.kind == STRING):
        return None
    name = left.key
    constant = _typed_constant(name, right.value)
    compare = _ORDER[op]
    present: Callable[[Values], Values] | None = _present if need_present else None

    def atom(c: Columns) -> Values:
        cache = c._cache
        got = cache.get(key)
        if got is None:
            values = c.column(name)
            got = compare(values, constant)
            if present is not None:
                got &= present(values)
            cache[key] = got
        return got

    numeric = left.kind in (NUMBER, TIER) and not isinstance(right.value, str)
    return _Node(
        BOOLEAN,
        min(left.start, right.start),
        max(left.end, right.end),
        key,
        left.names,
        atom,
        atom=(name, op, float(right.value)) if numeric else None,
        depth=1,
        operations=1,
    )


def _typed_constant(name: str, value: Any) -> Any:
    """Numbers as 0-d arrays of the column's dtype (features are float32: a literal compares
    as it would with the float32 value), strings as they are."""
    if isinstance(value, str):
        return value
    return np.array(value, dtype=np.float32 if name in FEATURES else np.float64)


def _member_test(kind: str, members: list[Any]) -> Callable[[Values], Values]:
    if kind == STRING:
        allowed = frozenset(members)

        def strings(a: Values) -> Values:
            if not isinstance(a, np.ndarray):
                return a in allowed
            return np.fromiter((v in allowed for v in a), dtype=bool, count=len(a))

        return strings
    if len(members) <= SHORT_LIST:

        def few(a: Values) -> Values:
            found: Values = np.zeros(np.shape(a), dtype=bool)
            for m in members:
                found = found | (a == m)
            return found

        return few
    array = np.asarray(members)
    return lambda a: np.isin(a, array)


def _kids(tree: lark.Tree) -> list[Any]:
    """A parse tree's children: tokens and trees, as the grammar places them."""
    return tree.children


def _unquote(token: str) -> str:
    # In the spelling requests' identifiers are normalised to, so a literal meets them.
    return normalised_text(token[1:-1].replace('\\"', '"').replace("\\\\", "\\"))
