"""Tasks: data + prompt + grader + metric. The YAML lives in tasks/, the code here."""

from harness.tasks.loading import load_task
from harness.tasks.synthetic import GENERATORS
from harness.tasks.task import TASK_KINDS, SyntheticTask, Task
from harness.tasks.types import MATH_SUFFIX, Example, chain_steps, final_answer, prompt_messages

__all__ = [
    "GENERATORS", "MATH_SUFFIX", "TASK_KINDS", "Example", "SyntheticTask", "Task", "chain_steps", "final_answer", "load_task",
    "prompt_messages",
]
