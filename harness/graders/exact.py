"""math-verify's comparison without its rounding: exact where both sides are exact.

math-verify 0.9.0 decides most number comparisons in `math_verify.grader.sympy_numeric_eq`,
which accepts two kinds of wrong answers (issue #11; reported on math-verify's tracker):

- a decimal on either side: both are rounded to 6 decimal places, so every pair of values
  below 5e-7 is equal (`0.0000001` = `0.0000002`);
- anything else that is not a plain number: `(a - b).evalf(chop=True, n=15) == 0`, and `chop`
  drops any difference below about 1e-15 in absolute terms, so `\\frac{1}{2006!}` =
  `\\frac{1}{2004!}` and `\\frac{1}{2^{98}}` = `\\frac{1}{2^{99}}`.

`strict_verify` runs math-verify's own `verify` (its parsing, its handling of sets, tuples,
intervals, equations, matrices and percentages) with that one function made strict, so a
verdict can only turn from right to wrong, never the other way:

- both sides exact (integers, rationals, surds, pi, factorials...: no decimal and no free
  symbol): equal only if their values agree to `EXACT_DIGITS` significant digits, evaluated
  by sympy at that precision on each side (no absolute cut-off, so 1/2^99 is far from 0);
  two rationals are compared exactly;
- a decimal on either side: math-verify's 6-decimal rounding must agree *and* the relative
  difference must be at most `DECIMAL_REL_TOL` (1e-5; decimals written out are compared as
  the exact decimal fractions they spell);
- free symbols: never equal by numbers; math-verify's next step, `simplify(a - b) == 0`,
  decides.

math-verify's `sympy_symbolic_eq` (sympy `simplify` of the difference) is also wrapped: for
two constants whose values clearly differ it answers "different" without simplifying, which
is what it would have concluded, only slower.

The functions are swapped into `math_verify.grader` only for the duration of a
`strict_verify` call and restored after, so other users of math-verify in the process (TRL's
rewards, lm-eval) see it unchanged. Like math-verify itself, a call must run on the main
thread (its timeouts use `signal.alarm`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sympy
from math_verify import grader as _mv_grader
from sympy import Basic, Float, Rational

EXACT_DIGITS = 30
"""Significant digits two exact constants must share to be equal (sympy evalf on each side)."""

DECIMAL_REL_TOL = Rational(1, 10**5)
"""Relative tolerance when a decimal is involved: |a - b| <= tol * max(|a|, |b|).

Both tests must pass: math-verify's agreement to 6 decimal places and this one. At magnitudes
of 0.05 and more the 6 decimals are the stricter test, so nothing changes there (1/3 vs
0.333333 and 1/7 vs 0.142857 stay right, 0.33 wrong); below, 6 decimals carry fewer than 5
significant digits (every value under 5e-7 rounds to 0) and the relative test takes over."""

_DIFFERENT_REL = sympy.Float(10) ** -10
"""Two constants further apart than this (relative) can never simplify to a zero difference."""

for _name in ("sympy_numeric_eq", "sympy_symbolic_eq", "verify"):
    if not callable(getattr(_mv_grader, _name, None)):  # pragma: no cover - guards a math-verify upgrade
        raise ImportError(
            f"math_verify.grader.{_name} is missing: harness/graders/exact.py is written for "
            "math-verify 0.9.0 (pyproject.toml pins it); re-check it before upgrading"
        )

_MV_NUMERIC_EQ = _mv_grader.sympy_numeric_eq
_MV_SYMBOLIC_EQ = _mv_grader.sympy_symbolic_eq


def _constant(expr) -> Basic | None:
    """expr as a plain scalar sympy expression without free symbols, or None if it is not one.

    Percentages (`50%` is `50 * UnevaluatedExpr(1/100)`) are evaluated; sets, tuples, matrices,
    relations and anything with a free symbol give None.
    """
    if not isinstance(expr, sympy.Expr):
        return None
    try:
        if expr.has(sympy.UnevaluatedExpr):
            expr = expr.doit()
        if expr.free_symbols or not expr.is_number:
            return None
    except Exception:
        return None
    return expr


def _exact_decimals(expr: Basic) -> Basic:
    """Every Float in expr replaced by the decimal fraction it prints as (0.333333 -> 333333/10^6)."""
    floats = expr.atoms(Float)
    if not floats:
        return expr
    return expr.xreplace({f: Rational(str(f)) for f in floats})


def _values(a: Basic, b: Basic, digits: int) -> tuple[sympy.Expr, sympy.Expr] | None:
    """Both values evaluated to `digits` significant digits (complex allowed), or None if either fails."""
    try:
        av, bv = a.evalf(digits), b.evalf(digits)
    except Exception:
        return None
    if not (av.is_number and bv.is_number) or av.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
        return None
    return av, bv


def relatively_close(a: Basic, b: Basic, rel_tol) -> bool | None:
    """|a - b| <= rel_tol * max(|a|, |b|) for two constants; None when they cannot be evaluated."""
    if isinstance(a, Rational) and isinstance(b, Rational):
        return abs(a - b) <= rel_tol * max(abs(a), abs(b))
    values = _values(a, b, EXACT_DIGITS + 5)
    if values is None:
        return None
    av, bv = values
    try:
        if not (abs(av) > 0 and abs(bv) > 0):
            # A zero (sin(pi) evaluates to 0.e-172, no digits): sympy's own zero test decides.
            return (a - b).equals(0) is True
        return bool(abs(av - bv) <= rel_tol * max(abs(av), abs(bv)))
    except TypeError:  # a comparison sympy cannot decide
        return None


def _close(a: Basic, b: Basic) -> bool:
    """The extra condition strict_numeric_eq puts on top of math-verify's own verdict."""
    ca, cb = _constant(a), _constant(b)
    if ca is None or cb is None:
        # Matrices are compared element by element through strict_numeric_eq itself (math-verify
        # recurses through the module global); expressions with free symbols are left to simplify.
        return not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr))
    if ca.has(Float) or cb.has(Float):
        close = relatively_close(_exact_decimals(ca), _exact_decimals(cb), DECIMAL_REL_TOL)
    elif isinstance(ca, Rational) and isinstance(cb, Rational):
        return ca == cb
    else:
        close = relatively_close(ca, cb, sympy.Float(10) ** -(EXACT_DIGITS - 5))
    return bool(close)


def strict_numeric_eq(a, b, float_rounding: int, numeric_precision: int) -> bool:
    """math-verify's `sympy_numeric_eq`, accepting only what `_close` also accepts (see module doc)."""
    return _MV_NUMERIC_EQ(a, b, float_rounding, numeric_precision) and _close(a, b)


def fast_symbolic_eq(a, b) -> bool:
    """math-verify's `sympy_symbolic_eq`, answering False at once for two clearly different constants."""
    ca, cb = _constant(a), _constant(b)
    if ca is not None and cb is not None and relatively_close(ca, cb, _DIFFERENT_REL) is False:
        return False
    return _MV_SYMBOLIC_EQ(a, b)


@contextmanager
def _strict_comparisons() -> Iterator[None]:
    _mv_grader.sympy_numeric_eq = strict_numeric_eq
    _mv_grader.sympy_symbolic_eq = fast_symbolic_eq
    try:
        yield
    finally:
        _mv_grader.sympy_numeric_eq = _MV_NUMERIC_EQ
        _mv_grader.sympy_symbolic_eq = _MV_SYMBOLIC_EQ


def strict_verify(gold: list, pred: list, timeout_seconds: int | None = 5) -> bool:
    """math-verify's `verify(gold, pred)` (gold first) with the strict number comparison above."""
    with _strict_comparisons():
        return bool(_mv_grader.verify(gold, pred, timeout_seconds=timeout_seconds))
