"""ESCI query-product classification: labels, grading, the TALR paper's prompts, balanced accuracy.

Labels follow the official baseline ids: E(xact)=0, S(ubstitute)=1, C(omplement)=2,
I(rrelevant)=3. The TALR prompts ask for the number inside <answer></answer> tags.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

from harness.graders.medcalc import render_chatml
from harness.grading import Grade

LABELS = ("E", "S", "C", "I")
"""Label letters in id order: LABELS[i] is the letter of id i."""

LABEL_NAMES = ("Exact", "Substitute", "Complement", "Irrelevant")
"""Spelled-out labels in id order."""

UNPARSED = -1
"""The id esci_scores gives a prediction that could not be read: it matches no true label."""

_LABEL_WORDS = frozenset(name.lower() for name in LABEL_NAMES)
_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
# The value: optional brackets/quotes/markup, then a digit 0-3 (not "12", "2.5") or a word.
_VALUE = re.compile(r"^[\s\[\(\"'*`]*(?:([0-3])(?!\d|\.\d)|([A-Za-z]+))(.*)$", re.DOTALL)


def label_id(label: str | int) -> int:
    """The id 0-3 of a label given as a letter, a spelled-out name (by its first letter) or an id.

    Raises ValueError for anything else.
    """
    if isinstance(label, int) and not isinstance(label, bool) and 0 <= label <= 3:
        return label
    text = str(label).strip()
    if text in {"0", "1", "2", "3"}:
        return int(text)
    if text and text[0].upper() in LABELS and (len(text) == 1 or text.lower() in _LABEL_WORDS):
        return LABELS.index(text[0].upper())
    raise ValueError(f"Not an ESCI label: {label!r} (expected E/S/C/I, a label name, or 0-3)")


def _read_value(text: str) -> int | None:
    """The label at the start of an answer: "2", "[2]", "C", "Complement", "2 (Complement)"."""
    match = _VALUE.match(text)
    if match is None:
        return None
    if match.group(1) is not None:
        return int(match.group(1))
    word, rest = match.group(2), match.group(3)
    if word.lower() in _LABEL_WORDS:
        return label_id(word)
    # A lone letter counts only when nothing but punctuation follows: "I think 2" is no "I".
    if len(word) == 1 and word.upper() in LABELS and not re.search(r"[A-Za-z0-9]", rest):
        return label_id(word.upper())
    return None


def extract_esci_label(completion: str) -> int | None:
    """The predicted label id, or None.

    Read from the last `<answer>...</answer>` block; a completion that holds only the closing tag
    (the w/o-CoT prompt already opened `<answer>`) is read up to it. Fallback without tags: the
    whole completion when it is nothing but one label ("2", "Exact"); free text is not searched
    for a label, since "not an exact match, so 3" would be misread.
    """
    blocks = _ANSWER_BLOCK.findall(completion)
    if not blocks and "</answer>" in completion and "<answer>" not in completion:
        blocks = [completion.split("</answer>")[0]]
    if blocks:
        return _read_value(blocks[-1])
    bare = completion.strip().strip(".")
    if re.fullmatch(r"[0-3]|[ESCI]|[A-Za-z]+", bare):
        return _read_value(bare)
    return None


def grade_esci(completion: str, label: str) -> Grade:
    """Grade a completion against the true label (letter, name or id; see label_id).

    `extracted` is the predicted label letter (E/S/C/I), or None when no label was found.
    """
    predicted = extract_esci_label(completion)
    if predicted is None:
        return Grade(correct=False, extracted=None)
    return Grade(correct=predicted == label_id(label), extracted=LABELS[predicted])


def esci_scores(y_true: Sequence[int], y_pred: Sequence[int | None]) -> dict[str, float]:
    """Balanced accuracy and per-class recall; unreadable predictions (None) count as misses.

    Returns {"balanced_accuracy": mean recall over the classes present in y_true (sklearn),
    "recall_E": ..., "recall_S": ..., "recall_C": ..., "recall_I": ...}; a class absent from
    y_true gets NaN recall.
    """
    from sklearn.metrics import balanced_accuracy_score  # sklearn takes ~1 s to import

    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    if not y_true:
        raise ValueError("esci_scores needs at least one example")
    truth = [label_id(y) for y in y_true]
    pred = [UNPARSED if p is None else label_id(p) for p in y_pred]
    with warnings.catch_warnings():  # UNPARSED is a class absent from y_true, on purpose
        warnings.simplefilter("ignore", UserWarning)
        scores = {"balanced_accuracy": float(balanced_accuracy_score(truth, pred))}
    for i, letter in enumerate(LABELS):
        hits = [p == t for t, p in zip(truth, pred, strict=True) if t == i]
        scores[f"recall_{letter}"] = sum(hits) / len(hits) if hits else float("nan")
    return scores


# ---------------------------------------------------------------------------------------------
# The TALR paper's prompts (Table 5: w/o CoT, Table 6: w/ CoT), texts verbatim

ESCI_SYSTEM_COT = (
    "You are a helpful assistant. You first think about the reasoning process in the mind "
    "and then provide the user with the answer."
)
ESCI_SYSTEM_NO_COT = "You are a helpful assistant. You provide the user with the answer."

_ESCI_USER_HEAD = (
    "Your task is to classify each product as being an Exact, Substitute, Complement, or "
    "Irrelevant match for the query.\n"
    "Here is the user\u2019s query:\n"
    "{user_query}\n"
    "Here is the product information:\n"
    "{product_info}\n"
    "--------------\n"
)
_ESCI_LABEL_LINE = (
    "Label the relation type as a number: 0 = Exact, 1 = Substitute, 2 = Complement and "
    "3 = Irrelevant. For example,\n"
)
ESCI_USER_TEMPLATE_NO_COT = (
    _ESCI_USER_HEAD
    + "Your final response must be within <answer> </answer> tags.\n"
    + _ESCI_LABEL_LINE
    + "<answer>one_of_[0, 1, 2, 3]</answer>."
)
"""Table 5 user message; fill with .format(user_query=..., product_info=...)."""

ESCI_USER_TEMPLATE_COT = (
    _ESCI_USER_HEAD
    + "Please show your entire reasoning process in **a single** <think> </think> block (do not "
    "open or close the tag more than once).\n"
    + "Your final response must be within <answer> </answer> tags.\n"
    + _ESCI_LABEL_LINE
    + "<think>\n[entire reasoning process here]\n</think>\n<answer>one_of_[0, 1, 2, 3]</answer>"
)
"""Table 6 user message; fill with .format(user_query=..., product_info=...)."""

ESCI_ASSISTANT_PREFIX_NO_COT = "<answer>"
ESCI_ASSISTANT_PREFIX_COT = "<think>"


def product_info(product_title: str, **product_fields: str | None) -> str:
    """The {product_info} block: one `name: value` line per field, title first.

    The paper does not show this block; field names are the ESCI product columns
    (product_title, product_brand, product_color, product_bullet_point, product_description),
    and empty fields are left out.
    """
    fields = {"product_title": product_title, **product_fields}
    return "\n".join(f"{name}: {str(value).strip()}" for name, value in fields.items() if value)


def esci_messages(
    query: str, product_title: str, with_cot: bool, **product_fields: str | None
) -> list[dict[str, str]]:
    """Table 5 (with_cot=False) or Table 6 (True) as chat messages, ending in the assistant prefix.

    For a tokenizer's own template use `apply_chat_template(messages, continue_final_message=True)`.
    """
    template = ESCI_USER_TEMPLATE_COT if with_cot else ESCI_USER_TEMPLATE_NO_COT
    user = template.format(user_query=query, product_info=product_info(product_title, **product_fields))
    return [
        {"role": "system", "content": ESCI_SYSTEM_COT if with_cot else ESCI_SYSTEM_NO_COT},
        {"role": "user", "content": user},
        {
            "role": "assistant",
            "content": ESCI_ASSISTANT_PREFIX_COT if with_cot else ESCI_ASSISTANT_PREFIX_NO_COT,
        },
    ]


def esci_prompt(query: str, product_title: str, with_cot: bool, **product_fields: str | None) -> str:
    """The TALR paper's ESCI prompt as one ChatML string (Table 6 if with_cot, else Table 5).

    It ends in the assistant prefix: `<think>` with CoT, `<answer>` without, so a w/o-CoT
    completion reads like `2</answer>` (grade_esci handles that). Rendered by render_chatml;
    use esci_messages for a model with another chat template.
    """
    return render_chatml(esci_messages(query, product_title, with_cot, **product_fields))
