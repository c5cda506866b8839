"""Tasks: fixed train/test splits, a grader, and the headline metric.

`Task` is the interface evaluation and training use; `SyntheticTask` draws from a seeded generator,
`harness.tasks.benchmarks` reads real benchmark rows. The same `grade` serves evaluation and RL
rewards, so the two cannot disagree.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.grading import Grade
from harness.registry import Registry
from harness.schemas import TaskConfig
from harness.tasks.synthetic import GENERATORS
from harness.tasks.types import Example, final_answer

# Drawing fails this many times in a row only if the generator's space is (nearly) exhausted.
_MAX_REJECTS = 10_000

TASK_KINDS: Registry[type[Task]] = Registry("task kind")


@dataclass(frozen=True)
class Task:
    config: TaskConfig
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.name

    def split(
        self, split: str, n: int, seed: int, exclude: frozenset[str] = frozenset(), distinct: bool = True
    ) -> list[Example]:
        raise TypeError(f"{type(self).__name__} has no split()")

    def grade(self, completion: str, example: Example) -> Grade:
        raise TypeError(f"{type(self).__name__} has no grade()")

    def grade_batch(self, completions: Sequence[str], examples: Sequence[Example]) -> list[Grade]:
        return [self.grade(c, ex) for c, ex in zip(completions, examples, strict=True)]

    def headline(self, samples: list[dict[str, Any]], k: int) -> dict[str, Any] | None:
        """A task whose score is not the mean correctness (ESCI: balanced accuracy) returns
        {"metric": name, "score": 0-100, ...extra metrics}; None keeps avg@k."""
        return None


@TASK_KINDS.register("synthetic")
@dataclass(frozen=True)
class SyntheticTask(Task):
    def example(self, rng: random.Random) -> Example:
        return GENERATORS.get(self.config.generator)(rng, **self.params)

    def split(
        self, split: str, n: int, seed: int, exclude: frozenset[str] = frozenset(), distinct: bool = True
    ) -> list[Example]:
        """n examples, none of whose prompts is in `exclude`; prompts distinct unless `distinct=False`
        (a pretraining corpus may repeat a problem, a test set may not).

        The stream depends only on (task name, split, seed), so the test items of a track are
        the same for every run and every machine (str seeds hash with SHA-512, not PYTHONHASHSEED).
        """
        rng = random.Random(f"{self.name}:{split}:{seed}")
        out: list[Example] = []
        seen = set(exclude)
        rejects = 0
        while len(out) < n:
            ex = self.example(rng)
            if ex.prompt in seen:
                rejects += 1
                if rejects > _MAX_REJECTS:
                    raise ValueError(
                        f"task {self.name!r} with params {self.params} cannot produce {n} distinct "
                        f"{split} prompts (got {len(out)}); lower the count or widen the parameters"
                    )
                continue
            rejects = 0
            if distinct:
                seen.add(ex.prompt)
            out.append(ex)
        return out

    def grade(self, completion: str, example: Example) -> Grade:
        if self.config.grader == "math":
            from harness.graders.math import grade_math

            return grade_math(completion, example.answer)
        got = final_answer(completion)
        return Grade(correct=got is not None and got == example.answer, extracted=got)

    def grade_batch(self, completions: Sequence[str], examples: Sequence[Example]) -> list[Grade]:
        if self.config.grader == "math":
            from harness.graders.math import grade_math_batch

            return grade_math_batch(list(completions), [ex.answer for ex in examples])
        return super().grade_batch(completions, examples)
