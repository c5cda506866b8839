"""Math grading with math-verify, plus the naive boxed-string match the audit compares it with.

math-verify parses both sides; the comparison is `harness.graders.exact.strict_verify`:
math-verify's `verify` with its number comparison made exact where both sides are exact and
relative (1e-6) where a decimal is involved, so tiny values such as 1/2^98 and 1/2^99 are no
longer equal (issue #11).

Speed (8,000 MATH500-sized completions in about 20 CPU seconds; `bench/grading.py`): the
answer span is cut from the completion before math-verify reads it (`harness.graders.span`),
LaTeX is parsed by two-stage ANTLR with a larger cache (`harness.graders.fastparse`), each gold
is parsed once per process, a verdict is cached per (gold, parsed prediction), a batch grades
each distinct (completion, gold) pair once, and the worker pool is started once and kept warm
across batches. `grade_math_reference` is the slow path all of this must agree with.

math-verify bounds each parse and comparison with `signal.alarm`, which works only on the main
thread of the main interpreter. `grade_math` therefore runs in-process on the main thread and
hands the work to a one-process pool elsewhere; `grade_math_batch` grades in a process pool (each
worker grades on its own main thread), so the per-item timeouts stay in force either way.
The pools use the "spawn" start method, so a script that grades in them needs the usual
`if __name__ == "__main__":` guard.
"""

from __future__ import annotations

import atexit
import functools
import math
import multiprocessing
import os
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

from harness.graders.exact import strict_verify
from harness.graders.fastparse import fast_parsing
from harness.graders.span import closing_brace, final_part, hash_line_answer
from harness.grading import Grade

PARSE_TIMEOUT_S = 5
"""Seconds math-verify may spend extracting and parsing one string (its default)."""

VERIFY_TIMEOUT_S = 5
"""Seconds math-verify may spend on one gold/prediction comparison (its default)."""

SMALL_BATCH = 64
"""Below this many items a batch is graded in-process: handing work to workers costs more."""

VERDICT_CACHE = 65536
"""(gold, parsed prediction) verdicts kept per process; samples of one problem repeat answers."""

# A model's final \boxed{} answer outranks "the answer is ..." prose and bare LaTeX
# (math-verify's default gives boxed the same priority as "final answer is" phrases).
_PRED_CONFIG = (LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig())
_GOLD_CONFIG = (LatexExtractionConfig(), ExprExtractionConfig())

DATASET_ALIASES = {
    "aime24": "aime2024",
    "aime25": "aime2025",
    "amc23": "amc2023",
    "minerva": "minerva_math",
    "olympiad": "olympiadbench",
}
"""Short names accepted wherever a shared dataset name is expected."""


# ---------------------------------------------------------------------------------------------
# math-verify grading


def _parse_gold_uncached(gold: str) -> tuple:
    # Wrapping in \boxed{} makes the whole gold string the extraction target: a bare gold like
    # "3, 5" or "\text{(B)}" would otherwise be searched for its last number or formula.
    return tuple(parse("\\boxed{" + gold + "}", list(_GOLD_CONFIG), parsing_timeout=PARSE_TIMEOUT_S))


_parse_gold = functools.lru_cache(maxsize=4096)(_parse_gold_uncached)


def _parse_pred(text: str) -> list:
    return parse(text, list(_PRED_CONFIG), parsing_timeout=PARSE_TIMEOUT_S)


def _extract(completion: str) -> list:
    """math-verify's parse of the completion, reading only its final part when that suffices."""
    text = hash_line_answer(completion)
    tail = final_part(text)
    if tail is not text:
        pred = _parse_pred(tail)
        if pred and not isinstance(pred[0], str):  # a parsed value: the one the whole text gives
            return pred
    return _parse_pred(text)


@functools.lru_cache(maxsize=VERDICT_CACHE)
def _cached_verdict(gold: str, pred: tuple) -> bool:
    return strict_verify(list(_parse_gold(gold)), list(pred), timeout_seconds=VERIFY_TIMEOUT_S)


def _verdict(gold: str, pred: list) -> bool:
    try:
        return _cached_verdict(gold, tuple(pred))
    except TypeError:  # an unhashable value (a mutable matrix): no cache
        return strict_verify(list(_parse_gold(gold)), pred, timeout_seconds=VERIFY_TIMEOUT_S)


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _grade_here(completion: str, gold: str, reference: bool = False) -> Grade:
    """Grade on this thread; it must be the main thread (math-verify's alarms).

    reference: the slow path (whole completion parsed, gold parsed again, no caches).
    """
    extracted = None
    try:
        if reference:
            pred = _parse_pred(hash_line_answer(completion))
        else:
            with fast_parsing():
                pred = _extract(completion)
        if not pred:
            return Grade(correct=False, extracted=None)
        # parse returns [sympy value, matched text], or [matched text] when sympy parsing failed.
        extracted = pred[-1] if isinstance(pred[-1], str) else str(pred[0])
        if reference:
            correct = strict_verify(list(_parse_gold_uncached(gold)), pred, timeout_seconds=VERIFY_TIMEOUT_S)
        else:
            with fast_parsing():  # the gold, parsed once per process
                correct = _verdict(gold, pred)
        return Grade(correct=bool(correct), extracted=extracted or None)
    except Exception:  # a grader never raises on model output; any failure is a wrong answer
        return Grade(correct=False, extracted=extracted or None)


def _gold_parses_here(gold: str) -> bool:
    parsed = _parse_gold(gold)
    return bool(parsed) and not isinstance(parsed[0], str)


def gold_parses(gold: str) -> bool:
    """Whether math-verify reads gold as a math value rather than only as text.

    A gold read only as text matches a prediction only when the two strings are identical.
    """
    if _on_main_thread():
        return _gold_parses_here(gold)
    return _side_pool().submit(_gold_parses_here, gold).result()


def _grade_chunk(pairs: tuple[list[str], list[str]], reference: bool = False) -> list[Grade]:
    completions, golds = pairs
    return [_grade_here(c, g, reference) for c, g in zip(completions, golds, strict=True)]


def _spawn_pool(workers: int) -> ProcessPoolExecutor:
    # spawn, not fork: the parent may hold torch/CUDA threads, which a fork would copy mid-state.
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


@functools.cache
def _side_pool() -> ProcessPoolExecutor:
    """One long-lived worker for grade_math calls made off the main thread."""
    return _spawn_pool(1)


_pool_lock = threading.Lock()
_pool: tuple[int, int, ProcessPoolExecutor] | None = None
"""(owner pid, workers, pool): the warm grading pool of this process."""


def _shutdown_pool() -> None:
    global _pool
    with _pool_lock:
        if _pool is not None and _pool[0] == os.getpid():
            _pool[2].shutdown(wait=False, cancel_futures=True)
        _pool = None


atexit.register(_shutdown_pool)


def _grading_pool(workers: int) -> ProcessPoolExecutor:
    """The warm pool of `workers` processes, started on first use and kept for later batches.

    A pool inherited through fork belongs to the parent (its threads did not come along) and is
    replaced; a pool of another size is shut down and replaced.
    """
    global _pool
    with _pool_lock:
        if _pool is not None and _pool[0] != os.getpid():
            _pool = None
        if _pool is not None and _pool[1] != workers:
            _pool[2].shutdown(wait=False, cancel_futures=True)
            _pool = None
        if _pool is None:
            _pool = (os.getpid(), workers, _spawn_pool(workers))
        return _pool[2]


def _warm_up(_: int) -> int:
    _grade_here("so \\boxed{\\frac{1}{2}}", "0.5")  # imports math-verify and sympy, compiles its regexes
    return os.getpid()


def warm_pool(workers: int | None = None) -> None:
    """Start the grading pool now (each worker importing math-verify) rather than on the first batch.

    Evaluation grades task after task; the pool stays up between batches (and is shut down at
    exit), so only the first batch of a process pays for starting it.
    """
    workers = _default_workers() if workers is None else workers
    if workers > 0:
        list(_grading_pool(workers).map(_warm_up, range(workers)))


def grade_math(completion: str, gold: str) -> Grade:
    """Grade one completion against a gold answer string with math-verify (gold parsed first).

    `extracted` is the text math-verify extracted from the completion (its last `\\boxed{}` if
    any, else an "answer is" phrase, else the last formula or number), or None if it found none.
    Boxes close together ("\\boxed{1} and \\boxed{2}") are read as one set, {1, 2}.
    A completion without a box whose last line is GSM8K's `#### N` is graded on N.
    Numbers are compared exactly, decimals to a relative 1e-6 (`harness.graders.exact`).
    Off the main thread the call is run in a one-process side pool to keep the timeouts.
    """
    if _on_main_thread():
        return _grade_here(completion, gold)
    return _side_pool().submit(_grade_here, completion, gold).result()


def grade_math_reference(completion: str, gold: str) -> Grade:
    """grade_math by the slow path: the whole completion through math-verify, no caches.

    The fast path (answer-span cut, caches) must give the same Grade; the bench and the tests
    check that it does. Same thread rules as grade_math.
    """
    if _on_main_thread():
        return _grade_here(completion, gold, reference=True)
    return _side_pool().submit(_grade_here, completion, gold, True).result()


def _default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def grade_math_batch(
    completions: Sequence[str],
    golds: Sequence[str],
    workers: int | None = None,
    reference: bool = False,
) -> list[Grade]:
    """Grade completions[i] against golds[i] for all i, in order.

    workers: processes to use (None = the CPUs this process may run on). With workers=0, or
    fewer than SMALL_BATCH distinct items, grading runs in-process (on the side pool when this
    is not the main thread). Each distinct (completion, gold) pair is graded once. Items go to
    the warm pool (see warm_pool) in contiguous chunks, so repeated golds (several samples per
    problem) hit the same worker's caches. reference: grade by the slow path instead
    (grade_math_reference), for checking agreement.
    """
    if len(completions) != len(golds):
        raise ValueError(f"{len(completions)} completions but {len(golds)} golds")
    if workers is None:
        workers = _default_workers()
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    index: dict[tuple[str, str], int] = {}
    slots = [index.setdefault(pair, len(index)) for pair in zip(completions, golds, strict=True)]
    distinct = ([c for c, _ in index], [g for _, g in index])

    if workers == 0 or len(index) < SMALL_BATCH:
        if _on_main_thread():
            grades = _grade_chunk(distinct, reference)
        else:
            grades = _side_pool().submit(_grade_chunk, distinct, reference).result()
    else:
        n = len(index)
        chunk = max(1, math.ceil(n / (workers * 4)))
        chunks = [(distinct[0][i : i + chunk], distinct[1][i : i + chunk]) for i in range(0, n, chunk)]
        grade_chunk = functools.partial(_grade_chunk, reference=reference)
        try:
            parts = list(_grading_pool(workers).map(grade_chunk, chunks))
        except BrokenProcessPool:  # a worker died (killed, out of memory): start afresh once
            _shutdown_pool()
            parts = list(_grading_pool(workers).map(grade_chunk, chunks))
        grades = [grade for part in parts for grade in part]
    return [grades[slot] for slot in slots]


# ---------------------------------------------------------------------------------------------
# The naive match: last \boxed{} content compared as a normalised string


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` or `\\fbox{...}` in text (nested braces kept).

    Also reads MATH's brace-less form `\\boxed 5` (up to the next `$` or end of line). None
    when there is no box or its braces do not close.
    """
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    i = start + (len("\\boxed") if text.startswith("\\boxed", start) else len("\\fbox"))
    if text.startswith(" ", i):
        rest = text[i:].lstrip(" ")
        value = re.split(r"[$\n]", rest, maxsplit=1)[0].strip()
        return value or None
    end = closing_brace(text, i)
    return None if end is None else text[i + 1 : end]


_TRAILING_UNIT = re.compile(r"^(.*\S.*?)\\(?:text|mbox)\{\s*[A-Za-z][A-Za-z\s^\d]*\}\s*$", re.DOTALL)
_TEXT_WRAPPER = re.compile(r"\\(?:text|mbox|textbf)\{([^{}]*)\}")
_SIZING = re.compile(r"\\(?:left|right)(?![A-Za-z])")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\circ|°")
_SPACING = re.compile(r"\\[!,;: ]|~")


def _normalise(answer: str) -> str:
    s = answer.replace("$", "")
    s = _TRAILING_UNIT.sub(r"\1", s)  # "5 \text{ cm}" -> "5 "
    s = _TEXT_WRAPPER.sub(r"\1", s)  # "\text{(B)}" -> "(B)"
    s = _SIZING.sub("", s)
    s = _DEGREES.sub("", s)
    s = _SPACING.sub("", s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = re.sub(r"\s+", "", s)
    return s.rstrip(".")


def boxed_string_match(completion: str, gold: str) -> bool:
    """Naive check: the last boxed content equals gold after light string normalisation.

    Normalisation drops `$`, spaces, `\\left`/`\\right`, `\\!`-style spacing, `^\\circ`, a
    trailing `\\text{unit}`, `\\text{...}` wrappers, a trailing period, and reads `\\dfrac` as
    `\\frac`. No arithmetic: `0.5` and `\\frac{1}{2}` differ. Used only to audit math-verify.
    """
    pred = last_boxed(completion)
    return pred is not None and _normalise(pred) == _normalise(gold)


# ---------------------------------------------------------------------------------------------
# Gold answers of the shared datasets


def _plain_answer(row: dict) -> str:
    value = row["answer"]
    if isinstance(value, float) and value.is_integer():  # AMC 2023 stores 27 as 27.0
        return str(int(value))
    return str(value).strip()


def _gsm8k_answer(row: dict) -> str:
    text = row["answer"]
    if "####" not in text:
        raise ValueError(f"GSM8K answer has no '####' line: {text[-80:]!r}")
    return text.split("####")[-1].strip().replace(",", "")


def _minerva_answer(row: dict) -> str:
    boxed = last_boxed(row["solution"])
    if boxed is None:
        raise ValueError(f"Minerva solution has no \\boxed answer: {row['solution'][-80:]!r}")
    return boxed.strip()


def _olympiadbench_answer(row: dict) -> str:
    answers = row["final_answer"]
    if isinstance(answers, str):
        answers = [answers]
    # "$69$,$84$": the dollars only delimit math; unescaped ones are dropped.
    return ", ".join(re.sub(r"(?<!\\)\$", "", a).strip() for a in answers)


GOLD_READERS = {
    "math500": _plain_answer,
    "aime2024": _plain_answer,
    "aime2025": _plain_answer,
    "amc2023": _plain_answer,
    "gsm8k": _gsm8k_answer,
    "minerva_math": _minerva_answer,
    "olympiadbench": _olympiadbench_answer,
}
"""Dataset name -> function reading a row's gold answer string."""


def canonical_dataset(dataset: str) -> str:
    """The shared-data name for `dataset`, resolving aliases such as aime24 and amc23."""
    return DATASET_ALIASES.get(dataset, dataset)


def gold_answer_for(row: dict, dataset: str) -> str:
    """The gold answer string of one row of a shared math dataset.

    math500, aime2024, aime2025, amc2023: `answer` (AMC's 27.0 -> "27"); gsm8k: the number after
    `####` in `answer`, commas removed; minerva_math: the last boxed content of `solution`;
    olympiadbench: `final_answer` (a list; items joined with ", ", `$` delimiters removed).
    """
    name = canonical_dataset(dataset)
    if name not in GOLD_READERS:
        known = ", ".join(sorted([*GOLD_READERS, *DATASET_ALIASES]))
        raise KeyError(f"No gold-answer reader for dataset {dataset!r}; known: {known}")
    return GOLD_READERS[name](row)
