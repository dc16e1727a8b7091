"""The rule condition grammar (lark, LALR) and the error every refusal of a condition
raises, with the offending position."""

from __future__ import annotations

import lark

MAX_LENGTH = 2_000

GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr (OR and_expr)*
?and_expr: not_expr (AND not_expr)*
?not_expr: NOT not_expr -> not_
         | comparison
?comparison: sum COMPARE sum -> compare
           | sum IN list -> in_
           | sum NOT IN list -> not_in
           | sum
?sum: product ((PLUS | MINUS) product)*
?product: unary ((STAR | SLASH) unary)*
?unary: MINUS unary -> neg
      | atom
?atom: NUMBER -> number
     | STRING -> string
     | TRUE -> true
     | FALSE -> false
     | NAME -> name
     | "(" or_expr ")"
list: "[" [item ("," item)*] "]"
item: MINUS? NUMBER | STRING | TRUE | FALSE

OR: "or"
AND: "and"
NOT: "not"
IN: "in"
TRUE: "true"
FALSE: "false"
COMPARE: "==" | "!=" | "<=" | ">=" | "<" | ">"
PLUS: "+"
MINUS: "-"
STAR: "*"
SLASH: "/"
NAME: /[A-Za-z_][A-Za-z0-9_]*/
NUMBER: /(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/
STRING: /"([^"\\\n]|\\["\\])*"/
%ignore /[ \t\r\n]+/
"""

PARSER = lark.Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)

# How lark's terminal names read in a syntax error.
_EXPECTED = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "COMPARE": "a comparison",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "MINUS": "'-'",
    "PLUS": "'+'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "$END": "the end",
}


class ExpressionError(ValueError):
    """A condition that does not parse or type-check; `position` is the 0-based offset of
    the offending character, `line` and `column` (1-based) the same place."""

    def __init__(self, message: str, position: int, text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        before = text[:position]
        self.line = before.count("\n") + 1
        self.column = position - (before.rfind("\n") + 1) + 1


def parse(text: str) -> lark.Tree:
    """The parse tree of `text`; ExpressionError where it does not follow the grammar."""
    try:
        return PARSER.parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        raise syntax_error(exc, text) from None


def syntax_error(exc: lark.exceptions.UnexpectedInput, text: str) -> ExpressionError:
    pos = exc.pos_in_stream if exc.pos_in_stream is not None else len(text)
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        return ExpressionError(f"unexpected character {text[pos]!r} at {pos}", pos, text)
    if isinstance(exc, lark.exceptions.UnexpectedToken):
        token = exc.token
        pos = token.start_pos if token.start_pos is not None else len(text)
        expected = ", ".join(sorted({_EXPECTED.get(t, repr(t.lower())) for t in exc.expected}))
        if token.type == "$END":
            pos = len(text)
            return ExpressionError(
                f"the condition ends too early at {pos}; expected {expected}", pos, text
            )
        return ExpressionError(
            f"unexpected {str(token)!r} at {pos}; expected {expected}", pos, text
        )
    return ExpressionError(f"the condition ends too early at {len(text)}", len(text), text)
