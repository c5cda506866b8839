"""Per-prompt tallies of the rollouts a run sampled, graded by the task's own grader.

The harness (not the method) keeps them: the metered sampler and the GRPO/RLOO reward wrapper
record every completion. A finished run stores them as `rollouts.json`; SFT data recipes read that
file to match an RL run's scale (prompts, solvable prompts, correct rollouts, total rollouts).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.runs import atomic_write_json
from harness.tasks import Example, Task

ROLLOUTS_FILE = "rollouts.json"


def prompt_key(prompt: Any) -> str:
    """One string per prompt: a user message's text, or the JSON of longer chat messages.

    Example prompts (a string or messages) and TRL's conversational prompts map to the same key."""
    if isinstance(prompt, str):
        return prompt
    messages = [{"role": m["role"], "content": m["content"]} for m in prompt]
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    return json.dumps(messages, ensure_ascii=False)


def completion_text(value: Any) -> str:
    """A completion as TRL passes it: a string, or a list holding one assistant message."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value.get("content", "")
    return completion_text(value[-1]) if value else ""


@dataclass
class Tally:
    rollouts: int = 0
    correct: int = 0


@dataclass
class RolloutLog:
    task: Task
    examples: dict[str, Example]
    """prompt_key -> example, for grading."""
    tallies: dict[str, Tally] = field(default_factory=dict)

    @classmethod
    def for_examples(cls, task: Task, examples: Iterable[Example]) -> RolloutLog:
        return cls(task, {prompt_key(ex.prompt): ex for ex in examples})

    def record_many(self, prompts: Sequence[Any], completions: Sequence[Any]) -> None:
        """Count rollouts (one completion per prompt entry), graded in one batch by the task's batch grader
        (math-verify in a process pool); prompts outside the task's data are counted, never correct."""
        keys = [prompt_key(p) for p in prompts]
        texts = [completion_text(c) for c in completions]
        known = [i for i, k in enumerate(keys) if k in self.examples]
        grades = self.task.grade_batch([texts[i] for i in known], [self.examples[keys[i]] for i in known]) if known else []
        correct = dict(zip(known, (g.correct for g in grades), strict=True))
        for i, key in enumerate(keys):
            tally = self.tallies.setdefault(key, Tally())
            tally.rollouts += 1
            tally.correct += bool(correct.get(i, False))

    def as_dict(self) -> dict[str, Any]:
        rollouts = sum(t.rollouts for t in self.tallies.values())
        correct = sum(t.correct for t in self.tallies.values())
        return {
            "task": self.task.name,
            "totals": {
                "prompts": len(self.tallies),
                "solvable_prompts": sum(t.correct > 0 for t in self.tallies.values()),
                "rollouts": rollouts,
                "correct_rollouts": correct,
            },
            "prompts": {p: {"rollouts": t.rollouts, "correct": t.correct} for p, t in self.tallies.items()},
        }

    def save(self, run_dir: Path) -> None:
        if self.tallies:
            atomic_write_json(Path(run_dir) / ROLLOUTS_FILE, self.as_dict())


def load_tallies(run_dir: Path) -> dict[str, Tally]:
    """prompt_key -> Tally from a finished run's rollouts.json."""
    path = Path(run_dir) / ROLLOUTS_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: match SFT data to a finished run that sampled rollouts (grpo, rloo, reinforce, star, ...)"
        )
    data = json.loads(path.read_text())
    return {p: Tally(v["rollouts"], v["correct"]) for p, v in data["prompts"].items()}
