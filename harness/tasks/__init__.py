"""Tasks: data + prompt + grader + metric. The YAML lives in tasks/, the code here."""

from harness.tasks.synthetic import GENERATORS, Example, final_answer, prompt_messages
from harness.tasks.task import TASK_KINDS, SyntheticTask, Task, load_task

__all__ = ["GENERATORS", "TASK_KINDS", "Example", "SyntheticTask", "Task", "final_answer", "load_task", "prompt_messages"]
