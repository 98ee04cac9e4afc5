"""Marketer-written segment rules, parsed safely.

A rule such as ``monetary > 1000 and country == 'Japan'`` is parsed with Python's ``ast``
module and then checked against a short whitelist (comparisons, ``and``/``or``/``not``,
arithmetic, constants, lists of constants and column names). Anything else — calls,
attributes, subscripts, lambdas, comprehensions — is refused before evaluation. Evaluation walks
the tree over pandas columns; nothing is ever passed to ``eval`` or ``compile``.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from omotenashi.errors import DataError

MAX_RULE_LENGTH = 1000
MAX_DEPTH = 40

_COMPARE: dict[type, Callable[[object, object], object]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ARITH: dict[type, Callable[[object, object], object]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_Evaluator = Callable[[pd.DataFrame], object]


@dataclass(frozen=True)
class Rule:
    """A parsed, validated rule.

    Attributes
    ----------
    expression : str
        The text as written.
    columns : frozenset of str
        Column names the rule reads.
    """

    expression: str
    columns: frozenset[str]
    _evaluate: _Evaluator = field(repr=False, compare=False)

    def evaluate(self, frame: pd.DataFrame) -> pd.Series:
        """Boolean mask of the rows of ``frame`` that satisfy the rule.

        Missing values never satisfy a comparison.

        Raises
        ------
        DataError
            When a column is missing or a comparison mixes incompatible types.
        """
        missing = sorted(self.columns - set(map(str, frame.columns)))
        if missing:
            raise DataError(
                f"rule {self.expression!r}: unknown column(s) {missing}; available: "
                f"{sorted(map(str, frame.columns))}",
                field=missing[0],
            )
        try:
            result = self._evaluate(frame)
        except TypeError as exc:
            raise DataError(f"rule {self.expression!r}: incompatible types ({exc})") from None
        if isinstance(result, pd.Series):
            if not (pd.api.types.is_bool_dtype(result) or result.dtype == object):
                raise DataError(
                    f"rule {self.expression!r}: evaluates to numbers, not true/false; "
                    "add a comparison"
                )
            return result.fillna(False).astype(bool)
        if isinstance(result, bool | np.bool_):
            return pd.Series(bool(result), index=frame.index)
        raise DataError(f"rule {self.expression!r}: evaluates to a constant, not true/false")


def parse_rule(expression: str) -> Rule:
    """Parse and validate a segment rule.

    Grammar (Python expression syntax, restricted): column names; numbers, strings,
    ``True``/``False``; lists or tuples of constants after ``in`` / ``not in``; comparisons
    ``== != < <= > >=`` (chains such as ``1 <= f_score <= 3`` allowed); ``+ - * /``;
    ``and``, ``or``, ``not`` and parentheses.

    Parameters
    ----------
    expression : str
        For example ``"monetary > 1000 and country == 'Japan'"``.

    Returns
    -------
    Rule

    Raises
    ------
    DataError
        On syntax errors, disallowed constructs, or expressions that are too long or deep.
    """
    if not isinstance(expression, str) or not expression.strip():
        raise DataError("rule: expected a non-empty text", field="rule")
    if len(expression) > MAX_RULE_LENGTH:
        raise DataError(f"rule: longer than {MAX_RULE_LENGTH} characters", field="rule")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise DataError(
            f"rule {expression!r}: syntax error at column {exc.offset}: {exc.msg}", field="rule"
        ) from None
    columns: set[str] = set()
    evaluator = _build(tree.body, expression, columns, 0)
    return Rule(expression, frozenset(columns), evaluator)


def _refuse(node: ast.AST, expression: str) -> DataError:
    return DataError(
        f"rule {expression!r}: {type(node).__name__} is not allowed (only column names, "
        "constants, comparisons, + - * /, and/or/not and parentheses)",
        field="rule",
    )


def _constant(node: ast.AST, expression: str) -> object:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float)
        and not isinstance(node.operand.value, bool)
    ):
        return -node.operand.value
    raise _refuse(node, expression)


def _build(node: ast.AST, expression: str, columns: set[str], depth: int) -> _Evaluator:
    if depth > MAX_DEPTH:
        raise DataError(f"rule {expression!r}: nested too deeply", field="rule")
    d = depth + 1
    if isinstance(node, ast.Name):
        name = node.id
        columns.add(name)
        return lambda df: df[name]
    if isinstance(node, ast.Constant):
        value = _constant(node, expression)
        return lambda df: value
    if isinstance(node, ast.BoolOp):
        parts = [_build(v, expression, columns, d) for v in node.values]
        is_and = isinstance(node.op, ast.And)

        def boolop(df: pd.DataFrame) -> object:
            masks = [_as_mask(p(df), df, expression) for p in parts]
            out = masks[0]
            for m in masks[1:]:
                out = (out & m) if is_and else (out | m)
            return out

        return boolop
    if isinstance(node, ast.UnaryOp):
        inner = _build(node.operand, expression, columns, d)
        if isinstance(node.op, ast.Not):
            return lambda df: ~_as_mask(inner(df), df, expression)
        if isinstance(node.op, ast.USub):
            return lambda df: -inner(df)  # type: ignore[operator]
        if isinstance(node.op, ast.UAdd):
            return inner
        raise _refuse(node.op, expression)
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITH:
            raise _refuse(node.op, expression)
        fn = _ARITH[type(node.op)]
        left = _build(node.left, expression, columns, d)
        right = _build(node.right, expression, columns, d)
        return lambda df: fn(left(df), right(df))
    if isinstance(node, ast.Compare):
        return _build_compare(node, expression, columns, d)
    raise _refuse(node, expression)


def _build_compare(node: ast.Compare, expression: str, columns: set[str], depth: int) -> _Evaluator:
    operands: list[ast.AST] = [node.left, *node.comparators]
    steps: list[_Evaluator] = []
    for i, op in enumerate(node.ops):
        left = _build(operands[i], expression, columns, depth)
        right_node = operands[i + 1]
        if isinstance(op, ast.In | ast.NotIn):
            if not isinstance(right_node, ast.List | ast.Tuple | ast.Set):
                raise DataError(
                    f"rule {expression!r}: 'in' needs a list of constants, e.g. "
                    "country in ['Japan', 'France']",
                    field="rule",
                )
            values = [_constant(e, expression) for e in right_node.elts]
            negate = isinstance(op, ast.NotIn)

            def member(
                df: pd.DataFrame,
                left: _Evaluator = left,
                values: list[object] = values,
                negate: bool = negate,
            ) -> object:
                lhs = left(df)
                mask = lhs.isin(values) if isinstance(lhs, pd.Series) else (lhs in values)
                return ~mask if negate else mask

            steps.append(member)
            continue
        if type(op) not in _COMPARE:
            raise _refuse(op, expression)
        fn = _COMPARE[type(op)]
        right = _build(right_node, expression, columns, depth)
        steps.append(lambda df, fn=fn, left=left, right=right: fn(left(df), right(df)))

    def chain(df: pd.DataFrame) -> object:
        out = _as_mask(steps[0](df), df, expression)
        for step in steps[1:]:
            out = out & _as_mask(step(df), df, expression)
        return out

    return chain


def _as_mask(value: object, frame: pd.DataFrame, expression: str) -> pd.Series:
    if isinstance(value, pd.Series):
        if value.dtype == object:
            return value.fillna(False).astype(bool)
        if not pd.api.types.is_bool_dtype(value):
            raise DataError(
                f"rule {expression!r}: a number is used where true/false is expected",
                field="rule",
            )
        return value.fillna(False).astype(bool)
    if isinstance(value, bool | np.bool_):
        return pd.Series(bool(value), index=frame.index)
    raise DataError(
        f"rule {expression!r}: a constant is used where true/false is expected", field="rule"
    )


def _as_pairs(rules: Mapping[str, str] | Sequence[tuple[str, str]]) -> list[tuple[str, Rule]]:
    items: Iterable[tuple[str, str]] = rules.items() if isinstance(rules, Mapping) else rules
    out = []
    for item in items:
        try:
            name, text = item
        except (TypeError, ValueError):
            raise DataError(f"rules: expected (name, expression) pairs, got {item!r}") from None
        out.append((str(name), parse_rule(text)))
    if not out:
        raise DataError("rules: no rule given", field="rules")
    return out


def parse_named_rule(text: str) -> tuple[str, str]:
    """Split ``"name: expression"`` (the CLI form) into its two parts.

    Raises
    ------
    DataError
        When there is no ``:`` or the name is empty.
    """
    name, sep, expression = text.partition(":")
    if not sep or not name.strip() or not expression.strip():
        raise DataError(
            f"rule {text!r}: write it as 'name: expression', e.g. "
            "\"vip japan: monetary > 1000 and country == 'Japan'\"",
            field="rule",
        )
    return name.strip(), expression.strip()


def assign_segments(
    frame: pd.DataFrame,
    rules: Mapping[str, str] | Sequence[tuple[str, str]],
    *,
    default: str = "other",
) -> pd.Series:
    """Give each row the name of the first rule it satisfies (rules are tried in order).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per customer, with the columns the rules read.
    rules : mapping or sequence of (name, expression)
        Ordered rules.
    default : str
        Segment of rows that satisfy no rule.

    Returns
    -------
    pandas.Series of str
        Indexed like ``frame``, named ``segment``.
    """
    out = pd.Series(default, index=frame.index, name="segment", dtype=object)
    unassigned = pd.Series(True, index=frame.index)
    for name, rule in _as_pairs(rules):
        hit = rule.evaluate(frame) & unassigned
        out[hit] = name
        unassigned &= ~hit
    return out


def rule_membership(
    frame: pd.DataFrame, rules: Mapping[str, str] | Sequence[tuple[str, str]]
) -> pd.DataFrame:
    """One boolean column per rule (segments may overlap), indexed like ``frame``."""
    return pd.DataFrame(
        {name: rule.evaluate(frame) for name, rule in _as_pairs(rules)}, index=frame.index
    )


__all__ = ["Rule", "assign_segments", "parse_named_rule", "parse_rule", "rule_membership"]
