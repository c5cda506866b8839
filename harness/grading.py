"""What a grader returns: one shape for every task, used by evaluation and by RL rewards alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Grade:
    """The verdict on one completion.

    `extracted` is the final answer the grader found in the completion, or None when it found
    none (an extraction failure, reported apart from a wrong answer).
    """

    correct: bool
    extracted: str | None

    @property
    def extraction_failed(self) -> bool:
        return self.extracted is None
