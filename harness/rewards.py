"""Reward functions built from a task, so RL training and evaluation grade a completion the same way.

Every reward names its granularity (`GRANULARITY`): a `sequence` reward is one number per completion
(TRL's reward functions; every token of the completion shares its advantage), a `step` reward is one
number per chain step, placed on that step's tokens (harness.methods.step_advantages turns it into
token-level advantages).

- outcome (sequence): 1 if the task's own grader (`Task.grade`, the one evaluation uses) accepts the
  final answer. This is also paper 001's final-answer reward r^F (which is +-1: the same up to a factor
  2 and a shift, which a group baseline removes).
- process (sequence): chain-of-thought correctness (paper 002's "CoT correctness", see `process_reward`).
- format (sequence): 1 if the completion has the answer shape `[chain]=ANSWER` (exactly one "=" and a
  non-empty answer).
- step (step): paper 001's per-step process reward (see `step_rewards`), for tasks whose examples carry a
  serial chain rule (the ksparse tasks).

`reward_funcs` returns TRL-style callables (keywords `prompts`, `completions`, dataset columns): the
dataset from `rl_dataset` carries an `item` column that indexes the examples.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from harness.rollouts import completion_text
from harness.tasks import Example, Task, chain_steps, prompt_messages
from harness.tasks.chains import chain_length, has_serial_chain, score_steps

if TYPE_CHECKING:
    from datasets import Dataset

RewardName = Literal["outcome", "process", "format", "step"]
REWARD_NAMES: tuple[str, ...] = ("outcome", "process", "format", "step")
Granularity = Literal["sequence", "step"]
GRANULARITY: dict[str, Granularity] = {"outcome": "sequence", "process": "sequence", "format": "sequence",
                                       "step": "step"}
_STEP_SEPARATOR = "[+ ,;]?"


def outcome_reward(task: Task, completion: str, example: Example) -> float:
    return float(task.grade(completion, example).correct)


def chain_correct(completion: str, example: Example) -> bool:
    """Every gold intermediate step, in order, and nothing else before the final '='; a short answer (nothing
    before the '=') has no chain to get wrong and passes."""
    if not example.chain:
        return True
    if "=" not in completion:
        return False
    if not chain_steps(completion).strip():
        return True
    pattern = _STEP_SEPARATOR.join(re.escape(step) for step in example.chain)
    return re.fullmatch(pattern, chain_steps(completion).strip()) is not None


def supports_process_reward(task: Task) -> bool:
    return task.config.kind == "synthetic" and getattr(task.config, "grader", "final_answer") == "final_answer"


def process_reward(task: Task, completion: str, example: Example) -> float:
    """Paper 002's chain-of-thought correctness: 1 when the whole sequence is valid, i.e. the final answer is right
    and, if the completion writes a chain, every step of it is the gold step. A correct short answer (`=ANSWER`, no
    chain) scores 1, as in the paper's STaR analysis (Sec. 3.2: after pretraining the model's correct samples are
    long with probability epsilon and short otherwise, and STaR fits exactly that mixture of long and short correct
    sequences). A wrong chain, or a wrong answer after any chain, scores 0."""
    return float(task.grade(completion, example).correct and chain_correct(completion, example))


def format_reward(task: Task, completion: str, example: Example) -> float:
    return float(completion.count("=") == 1 and completion.rsplit("=", 1)[1].strip() != "")


def supports_step_reward(examples: Sequence[Example]) -> bool:
    return bool(examples) and all(has_serial_chain(ex) for ex in examples)


def step_rewards(completion: str, example: Example) -> list[tuple[int, int, float]]:
    """Paper 001's per-step process reward (Eq. 5; serial chain, Eq. 175) as (start, end, reward) character spans.

    Step t of the chain earns +1/(k-1) when it equals phi(the model's OWN step t-1, x_i(t+1)) -- the correct value
    given the model's previous step, not the gold chain -- and -1/(k-1) otherwise (y_t * ybar_t / (k-1) with
    y in {-1, +1}). So a right step after a wrong one still earns its reward. The answer is one more
    step, read by position (k-1 chain characters, '=', one bit), right when it repeats the model's own last chain
    step; surplus text after the chain makes it wrong and is its span. A step the model did not write, or that is not a
    bit, earns -1/(k-1); a missing step's span is the text written in its place (an early "=", the characters run
    on past the chain), or empty at the completion's end (its end token). See harness.tasks.chains."""
    scores = score_steps(example, completion)
    unit = 1.0 / chain_length(example)
    return [(s.start, s.end, unit if s.local else -unit) for s in scores]


def step_reward(task: Task, completion: str, example: Example) -> float:
    """The sum of the per-step rewards: the sequence total TRL logs and the meter sees."""
    return sum(r for _, _, r in step_rewards(completion, example))


REWARDS: dict[str, Callable[[Task, str, Example], float]] = {
    "outcome": outcome_reward,
    "process": process_reward,
    "format": format_reward,
    "step": step_reward,
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
    if name == "step" and not supports_step_reward(examples):
        raise ValueError(f"the step reward needs a task whose examples carry a serial chain rule (a ksparse task); "
                         f"{task.name!r} has none")
    fn = REWARDS[name]

    def reward(prompts: list[Any], completions: list[Any], item: list[int], **kwargs: Any) -> list[float]:
        texts = [completion_text(c) for c in completions]
        exs = [examples[i] for i in item]
        if name == "outcome":  # the batch grader evaluation uses (math-verify runs in a process pool)
            return [float(g.correct) for g in task.grade_batch(texts, exs)]
        return [fn(task, t, ex) for t, ex in zip(texts, exs, strict=True)]

    reward.__name__ = name  # TRL logs rewards/<name>/mean
    reward.granularity = GRANULARITY[name]
    if name == "step":  # the per-step spans, for token-level advantages (harness.methods.step_advantages)
        reward.spans = lambda text, i: step_rewards(text, examples[i])
    return reward


def rl_dataset(examples: Sequence[Example]) -> Dataset:
    """Prompt-only conversational rows for GRPO/RLOO, with the index of each example for the rewards."""
    from datasets import Dataset  # here, so the method configs (which name the rewards) import no data library

    return Dataset.from_list([{"prompt": prompt_messages(ex.prompt), "item": i} for i, ex in enumerate(examples)])
