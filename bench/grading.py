"""Math grading speed: the harness's grader against math-verify called directly.

    python bench/grading.py [--data-dir DIR] [--workers 2] [--cpu] [--skip-direct] [--limit N]

Completions: each of MATH500's 500 reference solutions is written 16 ways (see `variants`): the
solution itself, reformatted right answers (`\\dfrac`, decimals, `x = `, units, prose, a
Minerva-style "final answer" line, an earlier wrong box), wrong answers (perturbed, another
problem's answer, a tiny relative change) and broken ones (truncated, unclosed box, no box), so
agreement is measured on right and wrong answers alike: 8,000 completions in all.

Printed: the grader's wall time through `grade_math_batch` (warm pool, as evaluation grades
several tasks in a row), its agreement with the reference path (`grade_math_reference`: the
whole completion through math-verify's parser, no answer-span cut, no caches) on every item,
math-verify called directly in this one process (`parse` + `verify`, its defaults), with the
items where math-verify accepts what the harness rejects, and with --cpu the harness grader's
CPU seconds in this one process (a figure the machine's load barely moves).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from fractions import Fraction
from pathlib import Path

VARIANTS = 16

_INT = re.compile(r"-?\d+")


def _perturb(answer: str) -> str:
    """A wrong answer close to `answer`: its last integer plus one, else the answer plus 1."""
    matches = list(_INT.finditer(answer))
    if matches:
        m = matches[-1]
        return answer[: m.start()] + str(int(m.group()) + 1) + answer[m.end() :]
    return answer + "+1"


def _decimal(answer: str) -> str | None:
    """`answer` as a decimal when it is an integer or a plain fraction, else None."""
    s = answer.replace("\\dfrac", "\\frac").replace(" ", "")
    m = re.fullmatch(r"(-?)\\frac\{(\d+)\}\{(\d+)\}", s) or re.fullmatch(r"(-?)(\d+)/(\d+)", s)
    if m:
        value = Fraction(int(m.group(2)), int(m.group(3))) * (-1 if m.group(1) else 1)
        return f"{float(value):.6f}".rstrip("0").rstrip(".")
    if re.fullmatch(r"-?\d+", s):
        return s + ".0"
    return None


def _replace_last_box(solution: str, content: str) -> str:
    """The solution with its last boxed content replaced (or a box appended when it has none)."""
    from harness.graders.math import last_boxed

    start = solution.rfind("\\boxed")
    old = last_boxed(solution)
    if start < 0 or old is None or not solution.startswith("\\boxed{", start):
        return solution + f"\n\nThe answer is $\\boxed{{{content}}}$."
    i = start + len("\\boxed{")
    return solution[:i] + content + solution[i + len(old) :]


def variants(solution: str, answer: str, other_answer: str) -> list[str]:
    """16 completions for one problem, right, wrong and broken (the comment names each)."""
    head = solution[: max(0, solution.rfind("\\boxed"))] or solution
    decimal = _decimal(answer)
    out = [
        solution,  # the reference solution
        _replace_last_box(solution, _perturb(answer)),  # a wrong, perturbed answer
        _replace_last_box(solution, answer.replace("\\frac", "\\dfrac")),  # \dfrac
        _replace_last_box(solution, decimal if decimal is not None else answer),  # decimal form
        head + f"So the answer is ${answer}$.",  # no box, an "answer is" phrase
        solution[: len(solution) * 3 // 5],  # truncated: no final answer
        _replace_last_box(solution, answer + "\\text{ units}"),  # a unit
        f"First I guess $\\boxed{{{_perturb(answer)}}}$. Let me check.\n\n" + solution,  # early wrong box
        _replace_last_box(solution, "x = " + answer),  # an assignment
        _replace_last_box(solution, other_answer),  # another problem's answer
        head + f"\n\nFinal Answer: The final answer is ${answer}$. I hope it is correct.",  # Minerva
        solution[: solution.rfind("\\boxed") + 9] if "\\boxed" in solution else solution[:-5],  # unclosed
        _replace_last_box(solution, " " + answer + " "),  # spaces in the box
        solution + f"\n\n**Final answer:** {_perturb(answer)}",  # prose after the box
        _replace_last_box(solution, answer + "\\cdot(1+10^{-9})"),  # a tiny relative change
        solution.replace("\\boxed", "\\fbox"),  # \fbox
    ]
    assert len(out) == VARIANTS
    return out


def build_items(data_dir: Path, limit: int | None = None) -> tuple[list[str], list[str]]:
    """(completions, golds): 16 variants of each MATH500 solution, in problem order."""
    rows = [json.loads(line) for line in (data_dir / "math500" / "test.jsonl").open()]
    if limit is not None:
        rows = rows[:limit]
    completions: list[str] = []
    golds: list[str] = []
    for i, row in enumerate(rows):
        other = rows[(i + 7) % len(rows)]["answer"]
        for completion in variants(row["solution"], row["answer"], other):
            completions.append(completion)
            golds.append(row["answer"])
    return completions, golds


def _direct(completions: list[str], golds: list[str]) -> list[bool]:
    from math_verify import parse, verify

    return [verify(parse("\\boxed{" + g + "}"), parse(c)) for c, g in zip(completions, golds, strict=True)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=None, help="default: $HARNESS_DATA_DIR or ../shared/datasets")
    ap.add_argument("--workers", type=int, default=None, help="grading processes (default: the CPUs here)")
    ap.add_argument("--limit", type=int, default=None, help="problems (default: all 500)")
    ap.add_argument("--skip-direct", action="store_true", help="do not time math-verify called directly")
    ap.add_argument("--skip-reference", action="store_true", help="do not check agreement with the reference path")
    ap.add_argument("--cpu", action="store_true", help="also grade in this process and print its CPU time (load-independent)")
    args = ap.parse_args()

    from harness.data import data_dir as configured_data_dir
    from harness.graders.math import grade_math_batch, grade_math_reference, warm_pool

    data_dir = args.data_dir or configured_data_dir()
    if data_dir is None:
        raise SystemExit("no benchmark data: pass --data-dir DIR or set $HARNESS_DATA_DIR (MATH500 under DIR/math500/)")
    completions, golds = build_items(data_dir, args.limit)
    n = len(completions)
    load = os.getloadavg()[0]
    print(f"{n} completions ({n // VARIANTS} MATH500 solutions x {VARIANTS}); load average {load:.2f}")

    t0 = time.perf_counter()
    warm_pool(args.workers)
    warm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    grades = grade_math_batch(completions, golds, workers=args.workers)
    fast_s = time.perf_counter() - t0
    right = sum(g.correct for g in grades)
    print(f"harness grader (grade_math_batch, warm pool): {fast_s:.1f} s, {n / fast_s:.0f} completions/s, "
          f"{right} graded right (pool start {warm_s:.1f} s, not counted)")

    if args.cpu:
        from harness.graders import math as math_grader

        math_grader._cached_verdict.cache_clear()
        math_grader._parse_gold.cache_clear()
        t0, c0 = time.perf_counter(), time.process_time()
        local = grade_math_batch(completions, golds, workers=0)
        differ = [i for i, (a, b) in enumerate(zip(grades, local, strict=True)) if a != b]
        print(f"harness grader in this process: {time.process_time() - c0:.1f} CPU s "
              f"({time.perf_counter() - t0:.1f} s wall); agreement with the pool {n - len(differ)}/{n}")
        for i in differ[:20]:  # math-verify's 5 s timeouts are wall-clock: a loaded machine can hit them
            print(f"  item {i} (variant {i % VARIANTS}): pool {grades[i]} here {local[i]}")

    if not args.skip_reference:
        t0 = time.perf_counter()
        reference = grade_math_batch(completions, golds, workers=args.workers, reference=True)
        ref_s = time.perf_counter() - t0
        differ = [i for i, (a, b) in enumerate(zip(grades, reference, strict=True)) if a != b]
        print(f"reference path (whole completion, no caches): {ref_s:.1f} s; "
              f"agreement {n - len(differ)}/{n}")
        for i in differ[:20]:
            print(f"  item {i} (variant {i % VARIANTS}): fast {grades[i]} reference {reference[i]}")

    if not args.skip_direct:
        t0, c0 = time.perf_counter(), time.process_time()
        direct = _direct(completions, golds)
        direct_s = time.perf_counter() - t0
        print(f"math-verify called directly (one process): {direct_s:.1f} s, {n / direct_s:.0f} completions/s "
              f"({time.process_time() - c0:.1f} CPU s)")
        only_mv = [i for i in range(n) if direct[i] and not grades[i].correct]
        print(f"math-verify right, harness wrong: {len(only_mv)} items")
        for i in only_mv[:10]:
            print(f"  item {i} (variant {i % VARIANTS}): gold {golds[i]!r}, harness extracted {grades[i].extracted!r}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
