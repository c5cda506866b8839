"""The graders accept the benchmarks' own gold answers (real shared data; skipped without it).

Measured on the full data (python -m harness.grader_audit ...): MATH-500 gold 500/500, solution
500/500; GSM8K gold 1319/1319, solution 1319/1319; AIME 2024 gold 30/30, solution 28/29 (row 75
boxes \\textbf{(073)}, which math-verify reads as a text symbol); AMC 2023 gold 40/40; MedCalc
1047/1047 in both answer formats. The assertions pin these, with the slack noted beside them.
The last test uses toy rows and runs without the data.
"""

import os
from pathlib import Path

import pytest
from rich.console import Console

from harness.grader_audit import audit_math, audit_medcalc, read_rows, render_audit

DATA_DIR = Path(
    os.environ.get("HARNESS_DATA_DIR") or Path(__file__).parents[2].parent / "shared" / "datasets"
)

needs_data = pytest.mark.skipif(
    not DATA_DIR.is_dir(), reason=f"shared datasets not found at {DATA_DIR} (set HARNESS_DATA_DIR)"
)


def rows_of(dataset: str, limit: int | None = None) -> list[dict]:
    try:
        rows = read_rows(DATA_DIR, dataset)
    except FileNotFoundError as missing:
        pytest.skip(str(missing))
    return rows[:limit] if limit else rows


@needs_data
def test_math500_gold_answers_and_solutions_grade_correct():
    report = audit_math(rows_of("math500"), "math500")
    assert report.rows == 500
    assert report.check("gold").pass_rate == 1.0
    assert report.check("gold_parsed").pass_rate == 1.0
    assert report.check("solution").total == 500
    assert report.check("solution").pass_rate >= 0.99
    assert report.compared == 1000
    assert len(report.disagreements) <= 5


@needs_data
def test_gsm8k_gold_and_hash_line_solutions_grade_correct():
    report = audit_math(rows_of("gsm8k", limit=300), "gsm8k")
    assert report.check("gold").pass_rate == 1.0
    assert report.check("gold_parsed").pass_rate == 1.0
    assert report.check("solution").total == 300  # every reference answer ends in "#### N"
    assert report.check("solution").pass_rate >= 0.99


@needs_data
def test_aime2024_gold_and_its_one_textbf_quirk():
    report = audit_math(rows_of("aime24"), "aime24")
    assert report.check("gold").passed == 30
    solution = report.check("solution")
    assert (solution.total, solution.skipped) == (29, 1)  # row 60's solution has no box
    assert solution.passed >= 28
    assert {f.row_id for f in solution.failures} <= {"75"}
    # The naive match misses \textbf{(113)}-style boxes that math-verify reads as numbers.
    assert all(d.math_verify and not d.string_match for d in report.disagreements)
    assert len(report.disagreements) >= 10


@needs_data
def test_amc2023_gold_answers_grade_correct():
    report = audit_math(rows_of("amc23"), "amc23")
    assert report.rows == 40
    assert report.check("gold").pass_rate == 1.0
    assert report.check("gold_parsed").pass_rate == 1.0


@needs_data
def test_medcalc_ground_truths_grade_correct_in_both_formats():
    rows = rows_of("medcalc")
    assert len(rows) == 1047
    assert all(isinstance(v, str) for v in rows[0].values())  # CSV kept as text
    report = audit_medcalc(rows)
    assert report.check("talr").pass_rate >= 0.995
    assert report.check("json").pass_rate >= 0.995


@needs_data
def test_render_audit_shows_rates_failures_and_disagreements():
    report = audit_math(rows_of("aime24"), "aime24")
    console = Console(record=True, width=140)
    console.print(render_audit(report, max_rows=3))
    text = console.export_text()
    assert "Grader audit: aime2024 (30 rows)" in text
    assert "96.6%" in text  # 28/29 solutions
    assert "more disagreements" in text  # truncated at max_rows


def test_audits_on_toy_rows_report_failures_and_disagreements():
    minerva = [
        {"idx": 1, "solution": "so $s = \\boxed{\\frac{1}{2}}$"},
        {"idx": 2, "solution": "no box here"},  # gold unreadable: a failure, not a crash
    ]
    report = audit_math(minerva, "minerva")
    assert (report.check("gold").passed, report.check("gold").total) == (1, 2)
    assert report.check("gold").failures[0].row_id == "2"
    assert report.check("solution").pass_rate == 1.0
    with pytest.raises(KeyError, match="known"):
        audit_math(minerva, "minerva-math")

    math500 = [
        {"unique_id": "a", "answer": "\\frac{1}{2}", "solution": "Half: $\\boxed{0.5}$."},
        {"unique_id": "b", "answer": "3", "solution": "So $\\boxed{4}$."},  # a wrong solution
    ]
    report = audit_math(math500, "math500")
    assert [f.row_id for f in report.check("solution").failures] == ["b"]
    assert [(d.row_id, d.check, d.math_verify, d.string_match) for d in report.disagreements] == [
        ("a", "solution", True, False)
    ]
    assert report.compared == 4

    medcalc = audit_medcalc(
        [
            {
                "Row Number": "1",
                "Calculator ID": "4",
                "Ground Truth Answer": "3",
                "Lower Limit": "3",
                "Upper Limit": "3",
            },
            {
                "Row Number": "2",
                "Calculator ID": "4",
                "Ground Truth Answer": "N/A",
                "Lower Limit": "",
                "Upper Limit": "",
            },
        ]
    )
    assert medcalc.check("talr").passed == 1
    assert medcalc.check("json").failures[0].row_id == "2"


def test_the_audit_is_driven_by_the_task_yamls(tmp_path):
    from harness.grader_audit import audit_task

    # Rows come from the task's own test_data.local under the data directory: no table of files of its own.
    (tmp_path / "amc2023").mkdir()
    (tmp_path / "amc2023" / "test.jsonl").write_text('{"id": 1, "problem": "?", "answer": "27"}\n'
                                                     '{"id": 2, "problem": "?", "answer": "\\\\frac{1}{2}"}\n')
    report = audit_task("amc23", data_dir=tmp_path)
    assert (report.dataset, report.rows, report.check("gold").pass_rate) == ("amc2023", 2, 1.0)
    with pytest.raises(FileNotFoundError, match=r"math500/test.jsonl \(tasks/math500.yaml test_data.local\)"):
        audit_task("math500", data_dir=tmp_path)
    with pytest.raises(ValueError, match="covers math and medcalc tasks; 'parity' is synthetic.*Audited tasks: .*gsm8k"):
        audit_task("parity", data_dir=tmp_path)
