"""math-verify's parser, faster, with the same results.

Most of math-verify's time goes to latex2sympy's ANTLR parser (about 70% of grading MATH500
completions). Two changes, both in force only inside `fast_parsing()`:

- Two-stage ANTLR parsing: each LaTeX string is first parsed in SLL prediction mode, and again
  in the default LL mode only if that raises. ANTLR guarantees that an SLL parse that succeeds
  gives the parse tree LL would give (SLL only fails more often), so results are unchanged;
  SLL skips the full-context prediction that makes LL slow (about 1.7x on MATH500 answers).
- math-verify caches parsed LaTeX strings in an LRU of 20 (`parse_latex_cached`); the samples
  of one problem repeat answers more often than that holds, so the cache is `LATEX_CACHE` here.

The agreement with stock math-verify is checked by the tests and on 8,000 completions by
`bench/grading.py` (the reference path grades without `fast_parsing`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from antlr4.atn.PredictionMode import PredictionMode
from latex2sympy2_extended import latex2sympy2 as _l2s
from math_verify import parser as _mv_parser

LATEX_CACHE = 8192
"""Parsed LaTeX strings kept per process inside fast_parsing (math-verify keeps 20)."""

for _owner, _name in ((_l2s._Latex2Sympy, "create_parser"), (_l2s._Latex2Sympy, "parse"), (_mv_parser, "parse_latex_cached")):
    if not callable(getattr(_owner, _name, None)):  # pragma: no cover - guards an upgrade
        raise ImportError(
            f"{_owner.__name__}.{_name} is missing: harness/graders/fastparse.py is written for "
            "math-verify 0.9.0 and latex2sympy2_extended 1.11; re-check it before upgrading"
        )

_CREATE_PARSER = _l2s._Latex2Sympy.create_parser
_PARSE = _l2s._Latex2Sympy.parse
_PARSE_LATEX_CACHED = _mv_parser.parse_latex_cached
_big_latex_cache = functools.lru_cache(maxsize=LATEX_CACHE)(_PARSE_LATEX_CACHED.__wrapped__)

_mode = [PredictionMode.LL]


def _create_parser(self, latex_str):
    parser = _CREATE_PARSER(self, latex_str)
    parser._interp.predictionMode = _mode[0]
    return parser


def _two_stage_parse(self, latex_str):
    _mode[0] = PredictionMode.SLL
    try:
        return _PARSE(self, latex_str)
    except Exception:
        _mode[0] = PredictionMode.LL
        return _PARSE(self, latex_str)
    finally:
        _mode[0] = PredictionMode.LL


@contextmanager
def fast_parsing() -> Iterator[None]:
    """math-verify's parse inside this block: two-stage ANTLR and a larger LaTeX cache."""
    _l2s._Latex2Sympy.create_parser = _create_parser
    _l2s._Latex2Sympy.parse = _two_stage_parse
    _mv_parser.parse_latex_cached = _big_latex_cache
    try:
        yield
    finally:
        _l2s._Latex2Sympy.create_parser = _CREATE_PARSER
        _l2s._Latex2Sympy.parse = _PARSE
        _mv_parser.parse_latex_cached = _PARSE_LATEX_CACHED
