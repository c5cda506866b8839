"""MedCalc-Bench grading by the official per-calculator rules, and the TALR prompt."""

import json

import pytest

from harness.graders.medcalc import (
    MEDCALC_ASSISTANT_PREFIX,
    MEDCALC_SYSTEM,
    extract_medcalc_answer,
    grade_medcalc,
    medcalc_messages,
    medcalc_prompt,
)
from harness.grading import Grade


def csv_row(calculator_id: str, truth: str, lower: str | None = None, upper: str | None = None) -> dict:
    """A row as test_data.csv holds it: all strings."""
    return {
        "Calculator ID": calculator_id,
        "Ground Truth Answer": truth,
        "Lower Limit": truth if lower is None else lower,
        "Upper Limit": truth if upper is None else upper,
    }


DATE_ROW = csv_row("13", "10/05/2021")  # estimated due date
WEEKS_ROW = csv_row("69", "('4 weeks', '3 days')")  # gestational age
INTEGER_ROW = csv_row("4", "3")  # CHA2DS2-VASc
DECIMAL_ROW = csv_row("2", "25.238", "23.9761", "26.4999")  # creatinine clearance; truth -5% / +5%


def talr(answer) -> str:
    """A completion in the TALR format (the prompt already opened <think>)."""
    return f"\nThe note gives the values.\n</think>\n<answer>\n{json.dumps({'answer': answer})}\n</answer>"


@pytest.mark.parametrize(
    ("answer", "correct", "extracted"),
    [
        ("10/05/2021", True, "10/05/2021"),
        ("10/5/2021", True, "10/05/2021"),  # same calendar date, no zero padding
        ("10/5/2021 (40 weeks after LMP)", True, "10/05/2021"),
        ("10/06/2021", False, "10/06/2021"),
        ("5/10/2021", False, "05/10/2021"),  # day and month swapped
        ("2021-10-05", False, None),  # the official rule wants M/D/YYYY at the start
        ("N/A", False, None),
    ],
)
def test_dates(answer, correct, extracted):
    assert grade_medcalc(talr(answer), DATE_ROW) == Grade(correct, extracted)


@pytest.mark.parametrize(
    ("answer", "correct", "extracted"),
    [
        ("('4 weeks', '3 days')", True, "(4, 3)"),
        ("(4 weeks, 3 days)", True, "(4, 3)"),
        (["4 weeks", "3 days"], True, "(4, 3)"),  # a JSON list
        ("(4, 3)", True, "(4, 3)"),
        ("(3 weeks, 4 days)", False, "(3, 4)"),
        ("(4 weeks, 0 days)", False, "(4, 0)"),
        ("4 weeks", False, None),  # one number is no (weeks, days) pair
    ],
)
def test_gestational_age_tuple(answer, correct, extracted):
    grade = grade_medcalc(talr(answer), WEEKS_ROW)
    assert (grade.correct, grade.extracted) == (correct, extracted)


@pytest.mark.parametrize(
    ("answer", "correct", "extracted"),
    [
        (3, True, "3"),  # a JSON number
        ("3", True, "3"),
        ("3.4", True, "3.4"),  # rounds to 3
        ("2.6", True, "2.6"),
        ("3.5", False, "3.5"),  # Python rounds half to even: 4
        ("2.5", False, "2.5"),  # ... and 2
        ("3 out of 9 criteria", True, "3"),
        ("1, 4, 7", True, "3"),  # a list of criteria counts its items
        ("score 1 for age, total 3", True, "3"),  # else the last number
        ("The CURB-65 score is 4", False, "4"),
        ("N/A", False, None),
        ("unknown", False, None),
    ],
)
def test_integer_scores(answer, correct, extracted):
    grade = grade_medcalc(talr(answer), INTEGER_ROW)
    assert (grade.correct, grade.extracted) == (correct, extracted)


@pytest.mark.parametrize(
    ("answer", "correct", "extracted"),
    [
        (25.238, True, "25.238"),
        ("23.9761", True, "23.9761"),  # limits are inclusive
        ("26.4999", True, "26.4999"),
        ("26.5", False, "26.5"),
        ("23.97", False, "23.97"),
        ("25.1", True, "25.1"),
        ("25.1 kg/m^2", False, "2.0"),  # the official last-number rule reads the 2 of m^2
        ("BMI 30 -> corrected 25", True, "25.0"),
        ("25 mL/min/1.73 m²", True, "25.0"),
        ("2500%", True, "25.0"),  # a percentage is divided by 100
        ("str(round(50.476 / 2, 3))", True, "25.238"),  # the official str(expr) branch
        ("str(math.sqrt(637))", True, str(637**0.5)),
        ("str(__import__('os').getcwd())", False, None),  # not evaluated: no eval here
        ("str(10**10**10)", False, None),  # bounded exponent, no hang
        ("N/A", False, None),
    ],
)
def test_decimal_within_limits(answer, correct, extracted):
    grade = grade_medcalc(talr(answer), DECIMAL_ROW)
    assert (grade.correct, grade.extracted) == (correct, extracted)


def test_official_json_format_and_its_placeholders():
    official = json.dumps({"step_by_step_thinking": "BMI = 70 / 1.66^2", "answer": "25.4"})
    assert grade_medcalc(official, DECIMAL_ROW).correct
    assert grade_medcalc('{"answer": 25.4}', DECIMAL_ROW).correct  # number, not string
    # Echoing the template is no answer.
    assert grade_medcalc('{"answer": "X.XX"}', DECIMAL_ROW).extracted is None
    assert (
        grade_medcalc('{"answer": "str(short_and_direct_answer_of_the_question)"}', DECIMAL_ROW).extracted
        is None
    )


def test_talr_answer_block_wins_over_json_in_the_reasoning():
    completion = (
        '\nA wrong draft: {"answer": "1/1/2000"}\n</think>\n<answer>\n{"answer": "10/5/2021"}\n</answer>'
    )
    assert grade_medcalc(completion, DATE_ROW).correct
    # The last block counts; a bare value inside the tags is read too.
    assert grade_medcalc("<answer>2</answer> then <answer>3</answer>", INTEGER_ROW).correct
    assert extract_medcalc_answer("<answer>\n 12.5 \n</answer>") == "12.5"
    # Multi-line JSON inside the block (the official one-line regex cannot cross lines).
    assert grade_medcalc('<answer>\n{\n  "answer": "3"\n}\n</answer>', INTEGER_ROW).correct
    # Output cut before </answer>: the official regex on the whole text still finds it.
    assert grade_medcalc('</think>\n<answer>\n{"answer": "3"}', INTEGER_ROW).correct


@pytest.mark.parametrize(
    "completion", ["", "I cannot compute this.", "<answer></answer>", "<answer>{}</answer>"]
)
def test_missing_answers(completion):
    grade = grade_medcalc(completion, INTEGER_ROW)
    assert not grade.correct and grade.extracted is None


def test_any_exception_is_incorrect():
    assert not grade_medcalc(talr("3"), {**INTEGER_ROW, "Calculator ID": "999"}).correct  # unknown id
    assert not grade_medcalc(talr("3"), {"Calculator ID": "4"}).correct  # no ground truth
    bad_limits = {**DECIMAL_ROW, "Lower Limit": "N/A"}
    assert grade_medcalc(talr("25"), bad_limits) == Grade(False, "25.0")
    assert not grade_medcalc(talr("13/45/2021"), DATE_ROW).correct


def test_medcalc_prompt_is_the_talr_template():
    row = {"Patient Note": "A 65-year-old man ...", "Question": "What is the patient's CURB-65 score?"}
    prompt = medcalc_prompt(row)
    assert prompt.startswith(f"<|im_start|>system\n{MEDCALC_SYSTEM}<|im_end|>\n<|im_start|>user\n")
    assert (
        "Here is the patient note:\nA 65-year-old man ...\nHere is the task:\n"
        "What is the patient's CURB-65 score?\n"
    ) in prompt
    assert '<answer>\n{"answer": str(short_and_direct_answer_of_the_question)}\n</answer><|im_end|>' in prompt
    assert prompt.endswith("<|im_start|>assistant\nLet me solve this step by step.\n<think>")
    roles = [m["role"] for m in medcalc_messages(row)]
    assert roles == ["system", "user", "assistant"]
    assert medcalc_messages(row)[-1]["content"] == MEDCALC_ASSISTANT_PREFIX
    # A note with braces must not break the template's formatting.
    assert "{x}" in medcalc_prompt({"Patient Note": "labs {x}", "Question": "q"})
