"""Reward functions built from a task, so RL training and evaluation grade a completion the same way.

- outcome: 1 if the task's own grader (`Task.grade`, the one evaluation uses) accepts the final answer.
- process: chain-of-thought correctness (the parity paper's "CoT correctness"): the outcome is right
  *and* the text before the final "=" spells exactly the example's gold intermediate steps
  (`Example.chain`), in order, optionally separated by one of "+ ,;". A short answer without the chain
  gets 0. For a task without intermediate steps (empty chain) it equals the outcome reward.
- format: 1 if the completion has the answer shape `[chain]=ANSWER` (exactly one "=" and a non-empty answer).

`reward_funcs` returns TRL-style callables (keywords `prompts`, `completions`, dataset columns): the
dataset from `rl_dataset` carries an `item` column that indexes the examples.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from harness.rollouts import completion_text
from harness.tasks import Example, Task, chain_steps, prompt_messages

if TYPE_CHECKING:
    from datasets import Dataset

RewardName = Literal["outcome", "process", "format"]
REWARD_NAMES: tuple[str, ...] = ("outcome", "process", "format")
_STEP_SEPARATOR = "[+ ,;]?"


def outcome_reward(task: Task, completion: str, example: Example) -> float:
    return float(task.grade(completion, example).correct)


def chain_correct(completion: str, example: Example) -> bool:
    """Every gold intermediate step, in order, and nothing else before the final '='."""
    if not example.chain:
        return True
    if "=" not in completion:
        return False
    pattern = _STEP_SEPARATOR.join(re.escape(step) for step in example.chain)
    return re.fullmatch(pattern, chain_steps(completion).strip()) is not None


def supports_process_reward(task: Task) -> bool:
    return task.config.kind == "synthetic" and getattr(task.config, "grader", "final_answer") == "final_answer"


def process_reward(task: Task, completion: str, example: Example) -> float:
    return float(task.grade(completion, example).correct and chain_correct(completion, example))


def format_reward(task: Task, completion: str, example: Example) -> float:
    return float(completion.count("=") == 1 and completion.rsplit("=", 1)[1].strip() != "")


REWARDS: dict[str, Callable[[Task, str, Example], float]] = {
    "outcome": outcome_reward,
    "process": process_reward,
    "format": format_reward,
}


def score(name: str, task: Task, completion: str, example: Example) -> float:
    return REWARDS[name](task, completion, example)


def reward_funcs(task: Task, examples: Sequence[Example], names: Sequence[str] = ("outcome",)) -> list[Callable]:
    """One TRL reward function per name; each reads the `item` column of `rl_dataset(examples)`."""
    return [_trl_reward(name, task, examples) for name in names]


def _trl_reward(name: str, task: Task, examples: Sequence[Example]) -> Callable:
    if name == "process" and not supports_process_reward(task):
        raise ValueError(f"the process reward needs a synthetic task graded by its final answer with gold chains; "
                         f"{task.name!r} is not one")
    fn = REWARDS[name]

    def reward(prompts: list[Any], completions: list[Any], item: list[int], **kwargs: Any) -> list[float]:
        texts = [completion_text(c) for c in completions]
        exs = [examples[i] for i in item]
        if name == "outcome":  # the batch grader evaluation uses (math-verify runs in a process pool)
            return [float(g.correct) for g in task.grade_batch(texts, exs)]
        return [fn(task, t, ex) for t, ex in zip(texts, exs, strict=True)]

    reward.__name__ = name  # TRL logs rewards/<name>/mean
    return reward


def rl_dataset(examples: Sequence[Example]) -> Dataset:
    """Prompt-only conversational rows for GRPO/RLOO, with the index of each example for the rewards."""
    from datasets import Dataset  # here, so the method configs (which name the rewards) import no data library

    return Dataset.from_list([{"prompt": prompt_messages(ex.prompt), "item": i} for i, ex in enumerate(examples)])
