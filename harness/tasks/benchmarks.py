"""Real benchmarks as tasks: math (math-verify), MedCalc-Bench (official rules), ESCI (balanced accuracy).

Rows come through `harness.data` (local files under the data directory, or the hub). The test
items of a track are a fixed subset: the first n of a shuffle seeded by (task, split, seed), or
every row when n covers them all.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.data import DataUnavailable, load_rows
from harness.grading import Grade
from harness.tasks.task import TASK_KINDS, Task
from harness.tasks.types import MATH_SUFFIX, Example


@dataclass(frozen=True)
class BenchmarkTask(Task):
    def rows(self, split: str) -> list[dict]:
        source = self.config.test_data if split == "test" else self.config.train_data
        if source is None:
            raise DataUnavailable(f"task {self.name!r} has no {split} split (add `train_data` to tasks/{self.name}.yaml)")
        return load_rows(source, f"task {self.name!r} ({split})")

    def split(
        self, split: str, n: int, seed: int, exclude: frozenset[str] = frozenset(), distinct: bool = True
    ) -> list[Example]:
        rows = self.rows("test" if split == "test" else "train")
        if n < len(rows):
            chosen = sorted(random.Random(f"{self.name}:{split}:{seed}").sample(range(len(rows)), n))
            rows = [rows[i] for i in chosen]
        return [self.example_from_row(r) for r in rows]

    def example_from_row(self, row: dict) -> Example:
        raise TypeError(f"{type(self).__name__} has no example_from_row()")


_CALC = re.compile(r"<<[^>]*>>")


def gsm8k_target(answer: str) -> str:
    """A GSM8K solution as a training target: calculator annotations dropped, '#### N' boxed."""
    body, _, final = answer.rpartition("####")
    return f"{_CALC.sub('', body).strip()}\nThe final answer is $\\boxed{{{final.strip().replace(',', '')}}}$."


@TASK_KINDS.register("math")
@dataclass(frozen=True)
class MathTask(BenchmarkTask):
    """Problem + "Please reason step by step, and put your final answer within \\boxed{}." graded by math-verify."""

    def example_from_row(self, row: dict) -> Example:
        from harness.graders.math import gold_answer_for

        dataset = self.config.dataset or self.name
        suffix = self.params.get("prompt_suffix", MATH_SUFFIX)
        problem = row[self.config.prompt_field]
        gold = gold_answer_for(row, dataset)
        if dataset == "gsm8k":
            target = gsm8k_target(row["answer"])
        elif isinstance(row.get("solution"), str) and "boxed" in row["solution"]:
            target = row["solution"]
        else:
            target = f"The final answer is $\\boxed{{{gold}}}$."
        prompt = f"{problem}\n{suffix}" if suffix else problem
        return Example(prompt, target, gold, meta=None)

    def grade(self, completion: str, example: Example) -> Grade:
        from harness.graders.math import grade_math

        return grade_math(completion, example.answer)

    def grade_batch(self, completions: Sequence[str], examples: Sequence[Example]) -> list[Grade]:
        from harness.graders.math import grade_math_batch  # a process pool: math-verify times out by signal

        return grade_math_batch(list(completions), [ex.answer for ex in examples])


@TASK_KINDS.register("medcalc")
@dataclass(frozen=True)
class MedCalcTask(BenchmarkTask):
    """The TALR paper's MedCalc prompt (think block, JSON answer in answer tags); official grading rules."""

    def example_from_row(self, row: dict) -> Example:
        from harness.graders.medcalc import medcalc_messages

        truth = str(row["Ground Truth Answer"])
        explanation = str(row.get("Ground Truth Explanation") or "").strip()
        target = f"{explanation}\n</think>\n<answer>{json.dumps({'answer': truth})}</answer>"
        return Example(tuple(medcalc_messages(row)), target, truth, meta=dict(row))

    def grade(self, completion: str, example: Example) -> Grade:
        from harness.graders.medcalc import grade_medcalc

        return grade_medcalc(completion, example.meta)


@TASK_KINDS.register("esci")
@dataclass(frozen=True)
class ESCITask(BenchmarkTask):
    """Query-product relevance (E/S/C/I) with or without CoT (param with_cot); score = balanced accuracy."""

    PRODUCT_FIELDS = ("product_description", "product_bullet_point", "product_brand", "product_color")

    def example_from_row(self, row: dict) -> Example:
        from harness.graders.esci import LABELS, esci_messages, label_id

        if not row.get("product_title"):
            raise DataUnavailable(
                f"task {self.name!r}: ESCI rows need product text (product_title); the local label file has "
                "only query, product_id and label. Join the products parquet (amazon-science/esci-data) or "
                "use a dataset with titles (see tasks/" + self.name + ".yaml)"
            )
        with_cot = bool(self.params.get("with_cot", True))
        fields = {k: row.get(k) for k in self.PRODUCT_FIELDS}
        messages = esci_messages(row["query"], row["product_title"], with_cot, **fields)
        label = LABELS[label_id(row["esci_label"])]
        target = f"{label_id(label)}</answer>" if not with_cot else f"</think>\n<answer>{label_id(label)}</answer>"
        return Example(tuple(messages), target, label, meta=None)

    def grade(self, completion: str, example: Example) -> Grade:
        from harness.graders.esci import grade_esci

        return grade_esci(completion, example.answer)

    def headline(self, samples: list[dict[str, Any]], k: int) -> dict[str, Any]:
        from harness.graders.esci import esci_scores

        scores = esci_scores([s["reference"] for s in samples], [s["extracted"] for s in samples])
        return {"metric": "balanced_accuracy", "score": round(100 * scores["balanced_accuracy"], 4), **scores}
