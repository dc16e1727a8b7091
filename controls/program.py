"""A version's rule conditions as one program over a batch, so 50 rules cost a few numpy
operations more than one: every distinct operand of the rules' top-level `and`s is computed
once into a (operands x rows) matrix — the `name op number` comparisons all together, a
handful of operations for all of them — and each rule holds where all its operands do,
which one matrix product counts for every rule at once."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from controls.columns import Columns
from controls.expression import Condition, Operand
from controls.names import FEATURES

_UFUNCS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


class RuleProgram:
    """Evaluates conditions together; `matrix(columns)` equals stacking each condition's
    `evaluate(columns)` (tests/unit/controls/test_program.py checks it)."""

    def __init__(self, conditions: Sequence[Condition]) -> None:
        operands: dict[str, int] = {}  # operand key -> index among the distinct operands
        nodes: list[Operand] = []
        uses: list[list[int]] = []
        constant: list[bool | None] = []
        for condition in conditions:
            parts = condition.conjuncts
            if isinstance(parts, bool):
                uses.append([])
                constant.append(parts)
                continue
            mine = []
            for node in parts:
                if node.key not in operands:
                    operands[node.key] = len(nodes)
                    nodes.append(node)
                mine.append(operands[node.key])
            uses.append(sorted(set(mine)))
            constant.append(None)
        # Comparisons `name op number` first, grouped by operator; the others after.
        compared = {i: n.atom for i, n in enumerate(nodes) if n.atom is not None}
        atoms = sorted(compared, key=lambda i: list(_UFUNCS).index(compared[i][1]))
        others = [i for i, n in enumerate(nodes) if n.atom is None]
        order = atoms + others
        position = {old: new for new, old in enumerate(order)}
        self._names = list(dict.fromkeys(compared[i][0] for i in atoms))
        self._rows_of = np.array([self._names.index(compared[i][0]) for i in atoms], np.intp)
        self._limits = np.array(
            [_as_compared(compared[i][0], compared[i][2]) for i in atoms], dtype=np.float64
        ).reshape(len(atoms), 1)
        self._groups: list[tuple[np.ufunc, int, int]] = []
        for k, i in enumerate(atoms):
            op = _UFUNCS[compared[i][1]]
            if self._groups and self._groups[-1][0] is op:
                self._groups[-1] = (op, self._groups[-1][1], k + 1)
            else:
                self._groups.append((op, k, k + 1))
        self._atoms = len(atoms)
        self._others = [nodes[i] for i in others]
        width = len(order)
        weights = np.zeros((len(conditions), width), dtype=np.float32)
        for r, used in enumerate(uses):
            weights[r, [position[i] for i in used]] = 1
        self._weights = weights
        # A rule holds where the count of its operands that hold is all of them; a
        # constant rule: always (0 of 0) or never (-1).
        self._needed = np.array(
            [
                len(u) if c is None else (0 if c else -1)
                for u, c in zip(uses, constant, strict=True)
            ],
            dtype=np.float32,
        ).reshape(-1, 1)
        self._width = width

    def matrix(self, columns: Columns) -> np.ndarray:
        """(conditions x rows) booleans, under the caller's np.errstate."""
        n = columns.rows
        held = np.empty((self._width, n), dtype=bool)
        if self._atoms:
            stacked = np.array([columns.column(name) for name in self._names], dtype=np.float64)
            values = stacked[self._rows_of]
            for op, a, b in self._groups:
                op(values[a:b], self._limits[a:b], out=held[a:b])
                if op is np.not_equal:  # missing on either side: false, as everywhere
                    held[a:b] &= values[a:b] == values[a:b]
        for k, node in enumerate(self._others, start=self._atoms):
            held[k] = node.at(columns)
        counts = self._weights @ held.astype(np.float32)
        out: np.ndarray = counts == self._needed
        return out


def _as_compared(name: str, number: float) -> float:
    """The number as the online comparison sees it: a feature is float32, and so is the
    literal it is compared with."""
    return float(np.float32(number)) if name in FEATURES else number
