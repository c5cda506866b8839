"""ESCI labels, grading, balanced accuracy and the TALR prompts."""

import math

import pytest

from harness.graders.esci import (
    ESCI_SYSTEM_COT,
    ESCI_SYSTEM_NO_COT,
    esci_messages,
    esci_prompt,
    esci_scores,
    grade_esci,
    label_id,
)
from harness.grading import Grade


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("E", 0),
        ("S", 1),
        ("C", 2),
        ("I", 3),
        ("Exact", 0),
        ("substitute", 1),
        ("COMPLEMENT", 2),
        ("Irrelevant", 3),
        ("2", 2),
        (3, 3),
        (" e ", 0),
    ],
)
def test_label_id(label, expected):
    assert label_id(label) == expected


@pytest.mark.parametrize("label", ["X", "Excellent", "4", -1, True, "", "Exact match"])
def test_label_id_rejects_non_labels(label):
    with pytest.raises(ValueError, match="Not an ESCI label"):
        label_id(label)


@pytest.mark.parametrize(
    ("completion", "extracted"),
    [
        ("<think>\nA charger for the phone in the query.\n</think>\n<answer>2</answer>", "C"),
        ("2</answer>", "C"),  # w/o CoT: the prompt already opened <answer>
        ("<answer>Complement</answer>", "C"),
        ("<answer> [2] </answer>", "C"),
        ("<answer>**2**</answer>", "C"),
        ("<answer>2 (Complement)</answer>", "C"),
        ("<answer>c.</answer>", "C"),
        ("<answer>0</answer> no wait <answer>2</answer>", "C"),  # the last block counts
        ("<answer>3</answer>", "I"),
        ("<answer>Exact</answer>", "E"),
        ("Complement", "C"),  # fallback: a completion that is only a label
        ("2", "C"),
    ],
)
def test_grade_esci_reads_the_label(completion, extracted):
    assert grade_esci(completion, "C") == Grade(correct=extracted == "C", extracted=extracted)


@pytest.mark.parametrize(
    "completion",
    [
        "<answer>one_of_[0, 1, 2, 3]</answer>",  # the template echoed
        "<answer>12</answer>",
        "<answer>2.5</answer>",
        "<answer>I think 2</answer>",  # "I" here is a pronoun, not Irrelevant
        "<answer>Excellent</answer>",
        "<answer></answer>",
        "The product is a complement, so 2.",  # free text is not searched
        "",
    ],
)
def test_grade_esci_unreadable_is_extraction_failure(completion):
    assert grade_esci(completion, "C") == Grade(correct=False, extracted=None)


def test_grade_esci_accepts_spelled_out_and_numeric_truth():
    assert grade_esci("<answer>1</answer>", "Substitute").correct
    assert grade_esci("<answer>S</answer>", "1").correct


def test_esci_scores_match_a_hand_computation():
    y_true = [0, 0, 0, 1, 1, 2, 3, 3]
    y_pred = [0, 0, None, 1, 2, 2, 3, 0]
    # Recall by class: E 2/3 (the None is a miss), S 1/2, C 1/1, I 1/2.
    scores = esci_scores(y_true, y_pred)
    assert scores["recall_E"] == pytest.approx(2 / 3)
    assert scores["recall_S"] == pytest.approx(1 / 2)
    assert scores["recall_C"] == pytest.approx(1.0)
    assert scores["recall_I"] == pytest.approx(1 / 2)
    assert scores["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 1 + 1 / 2) / 4)
    # Plain accuracy would be 5/8 = 0.625; balanced accuracy weighs the rare C class up.
    assert scores["balanced_accuracy"] == pytest.approx(0.6666667)


def test_esci_scores_with_an_absent_class_and_letters():
    scores = esci_scores(["E", "E", "I"], ["E", None, "I"])
    assert scores["balanced_accuracy"] == pytest.approx((1 / 2 + 1) / 2)  # mean over E and I only
    assert math.isnan(scores["recall_S"]) and math.isnan(scores["recall_C"])
    with pytest.raises(ValueError):
        esci_scores([0, 1], [0])


def test_esci_prompts_follow_tables_5_and_6():
    no_cot = esci_prompt("usb c charger", "Anker 20W USB-C Charger", with_cot=False, product_brand="Anker")
    cot = esci_prompt("usb c charger", "Anker 20W USB-C Charger", with_cot=True, product_brand="Anker")
    for prompt in (no_cot, cot):
        assert "Here is the user\u2019s query:\nusb c charger\n" in prompt
        assert (
            "Here is the product information:\n"
            "product_title: Anker 20W USB-C Charger\nproduct_brand: Anker\n--------------\n"
        ) in prompt
        assert "0 = Exact, 1 = Substitute, 2 = Complement and 3 = Irrelevant. For example,\n" in prompt
    assert no_cot.startswith(f"<|im_start|>system\n{ESCI_SYSTEM_NO_COT}<|im_end|>")
    assert no_cot.endswith("<answer>one_of_[0, 1, 2, 3]</answer>.<|im_end|>\n<|im_start|>assistant\n<answer>")
    assert "<think>" not in no_cot
    assert cot.startswith(f"<|im_start|>system\n{ESCI_SYSTEM_COT}<|im_end|>")
    assert "in **a single** <think> </think> block" in cot
    assert cot.endswith(
        "</think>\n<answer>one_of_[0, 1, 2, 3]</answer><|im_end|>\n<|im_start|>assistant\n<think>"
    )
    # Empty product fields are left out.
    messages = esci_messages("q", "title", with_cot=False, product_color=None, product_description="")
    assert (
        "product_color" not in messages[1]["content"] and "product_description" not in messages[1]["content"]
    )
