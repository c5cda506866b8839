"""Graders for the real domain benchmarks: math (math-verify), MedCalc-Bench (official rules), ESCI.

Every grader returns a `harness.grading.Grade`, so evaluation and RL rewards share one verdict.
`harness.grader_audit` checks the graders against each benchmark's own gold answers.
"""

from harness.graders.esci import esci_prompt, esci_scores, grade_esci
from harness.graders.math import (
    boxed_string_match,
    gold_answer_for,
    grade_math,
    grade_math_batch,
    last_boxed,
)
from harness.graders.medcalc import grade_medcalc, medcalc_prompt

__all__ = [
    "boxed_string_match",
    "esci_prompt",
    "esci_scores",
    "gold_answer_for",
    "grade_esci",
    "grade_math",
    "grade_math_batch",
    "grade_medcalc",
    "last_boxed",
    "medcalc_prompt",
]
