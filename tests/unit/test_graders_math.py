"""math-verify grading, the naive boxed match, and each shared dataset's gold field."""

import json
import threading
from pathlib import Path

import pytest
from math_verify import grader as mv_grader
from math_verify import parse, verify

from harness.graders.exact import strict_verify
from harness.graders.fastparse import fast_parsing
from harness.graders.math import (
    SMALL_BATCH,
    boxed_string_match,
    gold_answer_for,
    gold_parses,
    grade_math,
    grade_math_batch,
    grade_math_reference,
    last_boxed,
    warm_pool,
)
from harness.graders.span import final_part
from harness.grading import Grade

REGRESSIONS = Path(__file__).resolve().parents[1] / "fixtures" / "math_grading_regressions.jsonl"

LAST_WINS = (
    "First pass: \\boxed{3}. Hmm, wait, the second case was counted twice, so redo the count "
    "carefully and subtract it: \\boxed{4}"
)


@pytest.mark.parametrize(
    ("completion", "gold", "extracted"),
    [
        ("\\boxed{\\text{(B)}}", "\\text{(B)}", "\\text{(B)}"),
        ("\\boxed{\\text{(B)}}", "(B)", "\\text{(B)}"),
        ("so the side is \\boxed{5 \\text{ cm}}", "5", "5"),  # the unit is dropped
        ("\\boxed{\\frac{1}{\\sqrt{2}}}", "\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}"),  # nested braces
        ("\\boxed{0.5}", "\\frac{1}{2}", "\\frac{1}{2}"),  # decimal vs fraction
        ("The answer is 1/2", "0.5", "1/2"),  # plain-text fraction, no box
        ("$\\boxed{50\\%}$", "50\\%", "50\\%"),
        ("\\boxed{50\\%}", "0.5", "50\\%"),  # math-verify reads 50% as 1/2
        ("\\boxed{10^\\circ}", "10", "10^\\circ"),
        ("\\boxed{x=2}", "2", "x=2"),  # an assignment counts as its value
        (LAST_WINS, "4", "4"),
        ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)", None),
    ],
)
def test_equivalent_answers_are_correct(completion, gold, extracted):
    grade = grade_math(completion, gold)
    assert grade.correct
    if extracted is not None:
        assert grade.extracted == extracted


@pytest.mark.parametrize(
    ("completion", "gold", "extracted"),
    [
        (LAST_WINS, "3", "4"),  # an earlier box does not count
        ("\\boxed{3}", "4", "3"),
        ("\\boxed{\\frac{1}{3}}", "0.33", "\\frac{1}{3}"),  # 0.33 is not 1/3
        ("\\boxed{(3, 4)}", "(4, 3)", "(3, 4)"),  # ordered pairs keep their order
    ],
)
def test_wrong_answers_are_incorrect(completion, gold, extracted):
    grade = grade_math(completion, gold)
    assert not grade.correct
    assert grade.extracted == extracted


@pytest.mark.parametrize("completion", ["", "I do not know.", "\\boxed{}"])
def test_no_answer_extracts_none(completion):
    grade = grade_math(completion, "5")
    assert grade == Grade(correct=False, extracted=None)
    assert grade.extraction_failed


def test_gsm8k_hash_line_is_the_answer():
    gold = gold_answer_for({"answer": "She earns 617 + 617 = <<617+617=1234>>1,234.\n#### 1,234"}, "gsm8k")
    assert gold == "1234"
    assert grade_math("#### 1,234", gold).correct
    # GSM8K test row 226: without the '####' rule math-verify reads "answer as a percentage: 33.333".
    text = (
        "divide and multiply by 100% to express the answer as a percentage: "
        "32 / 96 * 100% = 33.333...%, which rounds down to 33%\n#### 33"
    )
    assert grade_math(text, "33") == grade_math("#### 33", "33")
    assert grade_math(text, "33").correct
    # A box still outranks a '####' line, and a markdown '####' heading is no answer line.
    assert grade_math("\\boxed{7}\n#### 33", "7").correct
    assert grade_math("#### Step 1\nShe pays 3 + 4 = 7 dollars.", "7").correct


def test_batch_matches_single_grading_in_process_and_in_pool():
    completions = [f"so we get \\boxed{{{i}/2}}" for i in range(SMALL_BATCH + 6)]
    golds = [str(i / 2) for i in range(SMALL_BATCH + 6)]
    golds[3] = "99"  # one wrong
    expected = [grade_math(c, g) for c, g in zip(completions, golds, strict=True)]
    assert grade_math_batch(completions, golds, workers=0) == expected
    assert grade_math_batch(completions, golds, workers=2) == expected  # spawned workers
    assert sum(g.correct for g in expected) == len(expected) - 1


def test_batch_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="2 completions but 1 golds"):
        grade_math_batch(["\\boxed{1}", "\\boxed{2}"], ["1"])


def test_grading_off_the_main_thread_keeps_working():
    # math-verify's signal.alarm fails off the main thread; grade_math moves the work to a process.
    results = []
    worker = threading.Thread(target=lambda: results.append(grade_math("\\boxed{\\frac{2}{4}}", "0.5")))
    worker.start()
    worker.join()
    assert results == [grade_math("\\boxed{\\frac{2}{4}}", "0.5")]
    assert results[0].correct


@pytest.mark.parametrize(
    ("text", "content"),
    [
        ("so \\boxed{\\frac{1}{\\sqrt{2}}} done", "\\frac{1}{\\sqrt{2}}"),
        ("\\fbox{3} then \\boxed{4}", "4"),
        ("\\boxed{3} then \\fbox{4}", "4"),
        ("$\\boxed 5$", "5"),  # MATH's brace-less form
        ("\\boxed{a}{b}", "a"),
        ("\\boxed{unclosed", None),
        ("no box", None),
    ],
)
def test_last_boxed(text, content):
    assert last_boxed(text) == content


@pytest.mark.parametrize(
    ("completion", "gold", "matches"),
    [
        ("\\boxed{\\text{(B)}}", "(B)", True),
        ("\\boxed{5 \\text{ cm}}", "5", True),
        ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "(3,\\frac{\\pi}{2})", True),
        ("\\boxed{90^\\circ}", "90", True),
        ("\\boxed{\\dfrac{1}{2}.}", "$\\frac{1}{2}$", True),
        ("\\boxed{1\\!000}", "1000", True),
        ("\\boxed{0.5}", "\\frac{1}{2}", False),  # no arithmetic: where math-verify is needed
        ("\\boxed{3} and later \\boxed{4}", "3", False),
        ("the answer is 5", "5", False),  # no box, no match
    ],
)
def test_boxed_string_match(completion, gold, matches):
    assert boxed_string_match(completion, gold) is matches


@pytest.mark.parametrize(
    ("row", "dataset", "gold"),
    [
        ({"answer": "\\left( 3, \\frac{\\pi}{2} \\right)"}, "math500", "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ({"answer": "073"}, "aime2024", "073"),
        ({"answer": "073"}, "aime24", "073"),
        ({"answer": "70"}, "aime2025", "70"),
        ({"answer": 27.0}, "amc2023", "27"),  # stored as a float in the shared file
        ({"answer": 0.5}, "amc23", "0.5"),
        ({"answer": "Half of 2,468 is <<2468/2=1234>>1,234.\n#### 1,234"}, "gsm8k", "1234"),
        (
            {"solution": "So $s=\\boxed{\\frac{1}{2}}$ cm. Then \\boxed{1.6 \\times 10^{4}}"},
            "minerva_math",
            "1.6 \\times 10^{4}",
        ),
        ({"final_answer": ["$\\frac{1}{2 n+2}$"]}, "olympiadbench", "\\frac{1}{2 n+2}"),
        ({"final_answer": ["$69$,$84$"]}, "olympiadbench", "69,84"),
        ({"final_answer": ["1", "3"]}, "olympiadbench", "1, 3"),
    ],
)
def test_gold_answer_for(row, dataset, gold):
    assert gold_answer_for(row, dataset) == gold


def test_gold_answer_for_rejects_unknown_dataset_and_bad_rows():
    with pytest.raises(KeyError, match="known: .*math500"):
        gold_answer_for({"answer": "1"}, "math5000")
    with pytest.raises(ValueError, match="no '####'"):
        gold_answer_for({"answer": "42"}, "gsm8k")
    with pytest.raises(ValueError, match="no \\\\boxed"):
        gold_answer_for({"solution": "the answer is 4"}, "minerva_math")


def test_gold_parses_flags_golds_readable_only_as_text():
    assert gold_parses("\\frac{1}{2}")
    assert gold_parses("\\left( 3, \\frac{\\pi}{2} \\right)")
    # Minerva row 5's gold is Python code: math-verify keeps it as text, so only the identical
    # string would match.
    assert not gold_parses("np.arcsin(10/13)")
    assert grade_math("\\boxed{np.arcsin(10/13)}", "np.arcsin(10/13)").correct
    assert not grade_math("\\boxed{\\arcsin(10/13)}", "np.arcsin(10/13)").correct


# ---------------------------------------------------------------------------------------------
# Exact comparison (issue #11): no wrong answer passes by rounding


def _regressions() -> list[dict]:
    return [json.loads(line) for line in REGRESSIONS.read_text().splitlines() if line.strip()]


def test_regression_file_is_large_and_sourced():
    rows = _regressions()
    assert len(rows) >= 100
    for row in rows:
        assert set(row) == {"gold", "completion", "correct", "source", "note"}, row
        assert isinstance(row["correct"], bool) and row["source"] and row["note"]
    assert sum(row["correct"] for row in rows) >= 40 and sum(not row["correct"] for row in rows) >= 40


@pytest.mark.parametrize("row", _regressions(), ids=lambda row: f"{row['gold'][:25]}|{row['note'][:30]}")
def test_grading_regressions(row):
    assert grade_math(row["completion"], row["gold"]).correct is row["correct"]


def test_fast_path_agrees_with_reference_path_on_the_regression_file():
    rows = _regressions()
    completions, golds = [r["completion"] for r in rows], [r["gold"] for r in rows]
    reference = [grade_math_reference(c, g) for c, g in zip(completions, golds, strict=True)]
    assert grade_math_batch(completions, golds, workers=0) == reference
    assert grade_math_batch(completions, golds, workers=0, reference=True) == reference


@pytest.mark.parametrize(
    ("completion", "gold"),
    [
        ("\\boxed{\\frac{1}{2006!}}", "\\frac{1}{2004!}"),
        ("\\boxed{\\frac{1}{2^{98}}}", "\\frac{1}{2^{99}}"),
        ("\\boxed{1/2^98}", "1/2^99"),
        ("\\boxed{0.0000001}", "0.0000002"),
    ],
)
def test_issue_11_tiny_values_are_wrong(completion, gold):
    # Stock math-verify accepts every one of these (the bug); the harness must not.
    assert verify(parse("\\boxed{" + gold + "}"), parse(completion))
    assert not grade_math(completion, gold).correct
    assert grade_math(completion, completion[len("\\boxed{") : -1]).correct  # the same value stays right


def test_strict_verify_leaves_math_verify_unchanged_outside_the_call():
    numeric, symbolic = mv_grader.sympy_numeric_eq, mv_grader.sympy_symbolic_eq
    gold, pred = parse("$\\frac{1}{2^{99}}$"), parse("$\\frac{1}{2^{98}}$")
    assert strict_verify(gold, pred) is False
    assert (mv_grader.sympy_numeric_eq, mv_grader.sympy_symbolic_eq) == (numeric, symbolic)
    assert verify(gold, pred)  # other users of math-verify in the process see its own behaviour
    assert strict_verify(parse("$\\frac{1}{3}$"), parse("$0.333333$")) is True


def test_fast_parsing_parses_like_math_verify_and_restores_it():
    import latex2sympy2_extended.latex2sympy2 as l2s
    from math_verify import parser as mv_parser

    before = (l2s._Latex2Sympy.parse, l2s._Latex2Sympy.create_parser, mv_parser.parse_latex_cached)
    texts = [
        "$x = \\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$",
        "so $5x - 7y + 11z + 4 = 0$",
        "$\\{1\\pm\\sqrt{5},-2\\}$",
        "$\\frac{3(-2)-2}{-2-2}+",  # a syntax error: the SLL stage fails, the LL stage too
    ]
    stock = [parse(t) for t in texts]
    with fast_parsing():
        fast = [parse(t) for t in texts]
    assert [repr(p) for p in fast] == [repr(p) for p in stock]
    assert (l2s._Latex2Sympy.parse, l2s._Latex2Sympy.create_parser, mv_parser.parse_latex_cached) == before


@pytest.mark.parametrize(
    ("text", "tail"),
    [
        ("no box at all", None),
        ("one paragraph \\boxed{1}", None),
        ("work\n\nmore work\n\nso $\\boxed{7}$.", "so $\\boxed{7}$."),
        ("$\\boxed{1}$,\n\n$\\boxed{2}$", None),  # boxes that may form one set: no cut between them
        ("a $\\boxed{1}$\n\nb $\\boxed{2", None),  # the last box is unclosed: an earlier one may win
        ("a $\\boxed{1}$\n\nb $\\boxed 2$", None),  # brace-less last box: the same
        ("intro\n\n$$\nx\n\n= \\boxed{3}\n$$", "$$\nx\n\n= \\boxed{3}\n$$"),  # cut before the $$, not inside
        ("a\n\nThe final answer is\n\n$\\boxed{3}$", "The final answer is\n\n$\\boxed{3}$"),  # phrase kept whole
    ],
)
def test_final_part(text, tail):
    assert final_part(text) == (text if tail is None else tail)
    assert (final_part(text) is text) == (tail is None)


def test_warm_pool_is_reused_across_batches():
    from harness.graders import math as math_grader

    warm_pool(2)
    pool = math_grader._grading_pool(2)
    completions = [f"so we get \\boxed{{{i}}}" for i in range(SMALL_BATCH)]
    golds = [str(i) for i in range(SMALL_BATCH)]
    assert all(g.correct for g in grade_math_batch(completions, golds, workers=2))
    assert math_grader._grading_pool(2) is pool  # the same processes graded both batches


def test_batch_grades_each_distinct_pair_once_and_keeps_order():
    completions = ["\\boxed{1}", "\\boxed{2}", "\\boxed{1}", "\\boxed{1}"]
    golds = ["1", "1", "1", "2"]
    grades = grade_math_batch(completions, golds, workers=0)
    assert [g.correct for g in grades] == [True, False, True, False]
