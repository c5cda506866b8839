"""MedCalc-Bench grading by the official rules, and the TALR paper's MedCalc prompt.

Rules ported from ncbi-nlp/MedCalc-Bench `evaluation/run.py` (extract_answer) and `evaluate.py`
(check_correctness), one branch per calculator id. Two departures, both safer and neither
changing a verdict on well-formed answers: the `str(expr)` branch is evaluated by a small
arithmetic interpreter instead of `eval`, and the answer may also sit in the TALR format
(`<answer>{"answer": ...}</answer>` after a `<think>` block), read from the last answer block.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re
from datetime import datetime

from harness.grading import Grade

DATE_IDS = frozenset({13, 68})
"""Calculators answering a date, M/D/YYYY (estimated due date, conception date)."""

GESTATIONAL_AGE_IDS = frozenset({69})
"""Calculators answering a (weeks, days) pair."""

INTEGER_IDS = frozenset({4, 15, 16, 17, 18, 20, 21, 25, 27, 28, 29, 32, 33, 36, 43, 45, 48, 51})
"""Calculators answering an integer score: correct iff round(answer) == truth."""

DECIMAL_IDS = frozenset(
    {2, 3, 5, 6, 7, 8, 9, 10, 11, 19, 22, 23, 24, 26, 30, 31, 38, 39, 40, 44, 46, 49} | set(range(56, 68))
)
"""Calculators answering a decimal: correct iff Lower Limit <= answer <= Upper Limit."""

# Template text the official prompts show in place of an answer; echoing it is no answer.
_PLACEHOLDERS = frozenset(
    {
        "str(short_and_direct_answer_of_the_question)",
        "str(value which is the answer to the question)",
        "X.XX",
    }
)

_JSON_ANSWER = re.compile(r'[Aa]nswer":\s*(.*?)\}')
_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_DATE = re.compile(r"^(0?[1-9]|1[0-2])/(0?[1-9]|[12][0-9]|3[01])/(\d{4})")
_WEEKS_DAYS = re.compile(r"\(?[\"\']?(\d+)\s*(weeks?)?[\"\']?,?\s*[\"\']?(\d+)\s*(days?)?[\"\']?\s*\)?")
_NUMBER = re.compile(r"(-?\d+(\.\d+)?)")


# ---------------------------------------------------------------------------------------------
# Answer extraction


def _json_answer(text: str) -> str | None:
    """The official extraction: last `answer": ...}` match, whitespace and quotes stripped."""
    found = _JSON_ANSWER.findall(text)
    if not found:
        return None
    answer = found[-1].strip().strip('"')
    return None if answer in _PLACEHOLDERS else answer


def _answer_block(block: str) -> str | None:
    """The answer inside one <answer> block: JSON first, then the official regex, then raw."""
    body = block.strip()
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        for key in ("answer", "Answer"):
            if key in parsed:
                value = parsed[key]
                # Lists (["4 weeks", "3 days"]) go through the id 69 rule as their repr.
                answer = value if isinstance(value, str) else str(value)
                answer = answer.strip()
                return None if answer in _PLACEHOLDERS else answer
    answer = _json_answer(body)
    if answer is not None:
        return answer
    # A bare value in the tags (<answer>12</answer>) is unambiguous; a JSON-looking one is not.
    if body and "{" not in body and body not in _PLACEHOLDERS:
        return body
    return None


def extract_medcalc_answer(completion: str) -> str | None:
    """The raw answer string of a completion, or None.

    The last complete `<answer>...</answer>` block wins (TALR format); a completion whose prompt
    already opened the tag (so it holds only `...</answer>`) counts as one. Without a block,
    the official rule applies to the whole text: the last match of `[Aa]nswer":\\s*(.*?)\\}`.
    """
    blocks = _ANSWER_BLOCK.findall(completion)
    if not blocks and "</answer>" in completion and "<answer>" not in completion:
        blocks = [completion.split("</answer>")[0]]
    for block in reversed(blocks):
        answer = _answer_block(block)
        if answer is not None:
            return answer
    return _json_answer(completion)


# ---------------------------------------------------------------------------------------------
# Per-calculator parsing (official extract_answer) and checking (official check_correctness)


_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_FUNCTIONS = {"min": min, "max": max, "pow": pow, "round": round, "abs": abs, "int": int, "float": float}
# The official eval exposes `math`, `np` and `numpy`; these are the functions such formulas use.
_MODULE_FUNCTIONS = {
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "pow": math.pow,
    "floor": math.floor,
    "ceil": math.ceil,
    "fabs": math.fabs,
    "round": round,
    "abs": abs,
    "power": math.pow,
}
_MODULE_CONSTANTS = {"pi": math.pi, "e": math.e}
_MODULES = frozenset({"math", "np", "numpy"})
_MAX_EXPONENT = 1000  # 10**10**10 would hang the grader; no medical formula needs more


def _evaluate(node: ast.AST) -> float | int | bool:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
            raise ValueError("exponent too large")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        left = _evaluate(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(comparator)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        if node.value.id in _MODULES and node.attr in _MODULE_CONSTANTS:
            return _MODULE_CONSTANTS[node.attr]
    if isinstance(node, ast.Call) and not node.keywords:
        args = [_evaluate(arg) for arg in node.args]
        if isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
            return _FUNCTIONS[node.func.id](*args)
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if func.value.id in _MODULES and func.attr in _MODULE_FUNCTIONS:
                return _MODULE_FUNCTIONS[func.attr](*args)
    raise ValueError(f"unsupported expression: {ast.dump(node)[:80]}")


def _evaluate_str_expression(expression: str) -> float:
    """The official `str(expr)` branch: the same rewrites, then arithmetic without `eval`."""
    # Rewrites copied from the official run.py, blanket unit removals (even of "g") included.
    for old, new in (
        ("^", "**"),
        ("is odd", "% 2 == 1"),
        ("is even", "% 2 == 0"),
        ("sqrt", "math.sqrt"),
        (".math", ""),
        ("weight", ""),
        ("height", ""),
        ("mg/dl", ""),
        ("g/dl", ""),
        ("mmol/L", ""),
        ("kg", ""),
        ("g", ""),
        ("mEq/L", ""),
    ):
        expression = expression.replace(old, new)
    expression = expression.split("#")[0]
    opened, closed = expression.count("("), expression.count(")")
    if opened > closed:
        expression += ")" * (opened - closed)
    elif closed > opened:
        expression = "(" * (closed - opened) + expression
    return float(_evaluate(ast.parse(expression.strip(), mode="eval")))


def _weeks_days(text: str) -> tuple[int, int] | None:
    text = text.replace("[", "(").replace("]", ")").replace("'", "").replace('"', "")
    match = _WEEKS_DAYS.search(text)
    return (int(match.group(1)), int(match.group(3))) if match else None


def _parse_answer(answer: str, calculator_id: int) -> str | None:
    """The official per-calculator answer value as a string, or None where it says "N/A"."""
    if calculator_id in DATE_IDS:
        match = _DATE.search(answer)
        if not match:
            return None
        return f"{int(match.group(1)):02}/{int(match.group(2)):02}/{match.group(3)}"
    if calculator_id in GESTATIONAL_AGE_IDS:
        pair = _weeks_days(answer)
        return None if pair is None else f"({pair[0]}, {pair[1]})"
    if calculator_id in INTEGER_IDS:
        if match := re.search(r"(\d+) out of", answer):  # "3 out of 5"
            return match.group(1)
        if match := re.search(r"-?\d+(, ?-?\d+)+", answer):  # "3, 4, 5" counts the items
            return str(len(match.group(0).split(",")))
        numbers = _NUMBER.findall(answer)
        return numbers[-1][0] if numbers else None
    if calculator_id in DECIMAL_IDS:
        if match := re.search(r"str\((.*)\)", answer):
            return str(_evaluate_str_expression(match.group(1)))
        if match := re.search(r"(-?\d+(\.\d+)?)\s*mL/min/1.73", answer):
            return str(float(match.group(1)))
        if percents := re.findall(r"(-?\d+(\.\d+)?)\%", answer):
            return str(float(percents[-1][0]) / 100)
        numbers = _NUMBER.findall(answer)
        return str(float(numbers[-1][0])) if numbers else None
    raise ValueError(f"Unknown MedCalc calculator id {calculator_id}")


def _is_correct(value: str, row: dict, calculator_id: int) -> bool:
    truth = str(row["Ground Truth Answer"]).strip()
    if calculator_id in DATE_IDS:
        return datetime.strptime(value, "%m/%d/%Y").date() == datetime.strptime(truth, "%m/%d/%Y").date()
    if calculator_id in GESTATIONAL_AGE_IDS:
        return _weeks_days(value) == _weeks_days(truth)
    if calculator_id in INTEGER_IDS:
        return round(float(value)) == float(truth)
    lower, upper = float(row["Lower Limit"]), float(row["Upper Limit"])
    return lower <= float(value) <= upper


def grade_medcalc(completion: str, row: dict) -> Grade:
    """Grade a completion on one MedCalc-Bench row by the official rules for its calculator.

    row: a test_data.csv row (`Calculator ID`, `Ground Truth Answer`, `Lower Limit`,
    `Upper Limit`; strings or numbers). `extracted` is the answer value as the official code
    reads it ("10/05/2021", "(4, 3)", "12", "1.5"), or None when there is no usable answer
    ("N/A", a template placeholder, no answer at all). Any exception counts as incorrect.
    """
    try:
        calculator_id = int(row["Calculator ID"])
        answer = extract_medcalc_answer(completion)
        if answer is None:
            return Grade(correct=False, extracted=None)
        value = _parse_answer(answer, calculator_id)
        if value is None:
            return Grade(correct=False, extracted=None)
    except Exception:
        return Grade(correct=False, extracted=None)
    try:
        return Grade(correct=_is_correct(value, row, calculator_id), extracted=value)
    except Exception:
        return Grade(correct=False, extracted=value)


# ---------------------------------------------------------------------------------------------
# The TALR paper's prompt (Table 4)

MEDCALC_SYSTEM = (
    "You are a helpful assistant. You first think about the reasoning process in the mind "
    "and then provide the user with the answer."
)
"""System message of the TALR paper's MedCalc template (Table 4), verbatim."""

MEDCALC_USER_TEMPLATE = (
    "You are a helpful assistant for calculating a score for a given patient note. Please think "
    "step-by-step to solve the question and then generate the required score.\n"
    "Here is the patient note:\n"
    "{note}\n"
    "Here is the task:\n"
    "{question}\n"
    "Please show your entire reasoning process in a single <think> </think> block (do not open "
    "or close the tag more than once).\n"
    "Your final response must be in JSON format within <answer> </answer> tags. For example,\n"
    "<think>\n"
    "[entire reasoning process here]\n"
    "</think>\n"
    "<answer>\n"
    '{{"answer": str(short_and_direct_answer_of_the_question)}}\n'
    "</answer>"
)
"""User message of Table 4, verbatim; fill with .format(note=..., question=...)."""

MEDCALC_ASSISTANT_PREFIX = "Let me solve this step by step.\n<think>"
"""The assistant turn's opening in Table 4; the model continues after it."""


def medcalc_messages(row: dict) -> list[dict[str, str]]:
    """Table 4 as chat messages; the last (assistant) one is a prefix to continue.

    For a tokenizer's own template use `apply_chat_template(messages, continue_final_message=True)`.
    """
    user = MEDCALC_USER_TEMPLATE.format(note=row["Patient Note"], question=row["Question"])
    return [
        {"role": "system", "content": MEDCALC_SYSTEM},
        {"role": "user", "content": user},
        {"role": "assistant", "content": MEDCALC_ASSISTANT_PREFIX},
    ]


def medcalc_prompt(row: dict) -> str:
    """The TALR paper's MedCalc prompt (Table 4) as one ChatML string, ending in `<think>`.

    The table shows Qwen's ChatML turns; they are rendered the way Qwen's chat template writes
    them (`<|im_start|>role\\ncontent<|im_end|>\\n`), the table's line break before each
    `<|im_end|>` read as layout. Use `medcalc_messages` for a model with another template.
    """
    return render_chatml(medcalc_messages(row))


def render_chatml(messages: list[dict[str, str]]) -> str:
    """Messages in ChatML as Qwen's chat template writes it; the last message is left open.

    The TALR tables show these turns with a line break before each `<|im_end|>`; that is read
    as table layout, since Qwen's template (the paper's models) writes `content<|im_end|>\n`.
    """
    *closed, last = messages
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in closed)
    return f"{turns}<|im_start|>{last['role']}\n{last['content']}"
