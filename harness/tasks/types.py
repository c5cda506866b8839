"""The core task types every layer shares: an example, its prompt as chat messages, its final answer.

Every completion of a synthetic skill has the shape `[chain of thought]=ANSWER`: the final answer is
whatever follows the last "=". Math prompts end with `MATH_SUFFIX`, the instruction the math
benchmarks and the synthetic word problems share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MATH_SUFFIX = "Please reason step by step, and put your final answer within \\boxed{}."
"""Appended to math problems (benchmarks: unless a task's `prompt_suffix` says otherwise)."""


@dataclass(frozen=True)
class Example:
    """One problem (a synthetic draw or a benchmark row): the prompt, the gold assistant message, the final answer."""

    prompt: str | tuple[dict[str, str], ...]
    """The user message, or whole chat messages (a final assistant message is a prefix to continue)."""
    completion: str
    answer: str
    chain: tuple[str, ...] = ()  # gold intermediate steps, for process rewards; empty when none
    meta: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    """The benchmark row, for graders that need more than the answer (MedCalc limits)."""


def prompt_messages(prompt: str | tuple[dict[str, str], ...] | list) -> list[dict[str, str]]:
    """An Example's prompt as chat messages: a user message, or its messages (a final assistant message is a prefix
    the model continues)."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [{"role": m["role"], "content": m["content"]} for m in prompt]


def final_answer(completion: str) -> str | None:
    """The text after the last '=', stripped; None when the completion has no '='."""
    if "=" not in completion:
        return None
    return completion.rsplit("=", 1)[1].strip()


def chain_steps(completion: str) -> str:
    """The chain of thought: everything before the last '='."""
    return completion.rsplit("=", 1)[0] if "=" in completion else completion
