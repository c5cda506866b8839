"""Evaluate a model on a track's tasks: generate, grade with the task's own grader, aggregate.

Metrics per task: avg@k (mean correctness over all samples), pass@k (unbiased estimator of
Chen et al. 2021 with n = k samples), mean completion length, and the share of samples cut by the
length limit. The headline score is 100 x avg@k. Tasks with a serial chain (ksparse) also get
`chain_accuracy`: {"local": [...], "gold": [...]}, the percentage of samples whose chain position t is right
given the model's own previous step (local) or equal to the gold step (gold), one value per chain step and a
last one for the answer (harness.tasks.chains).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Any

from rich.progress import Progress
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from harness.generation import Generator, generate_with
from harness.schemas import EvalConfig
from harness.tasks import Example, Task
from harness.tasks.chains import has_serial_chain, step_accuracy


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct: 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


@dataclass
class TaskEvaluation:
    """One run's evaluation of one task: its metrics.json `tasks.<name>` entry (harness.record.TaskMetrics
    fields) and its samples. Not harness.scoring.TaskScore, which is an entry's seed mean with intervals."""

    name: str
    role: str
    metrics: dict[str, Any]
    samples: list[dict[str, Any]]


def evaluate_task(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    task: Task,
    items: list[Example],
    role: str,
    cfg: EvalConfig,
    progress: Progress | None = None,
    backend: str = "transformers",
    generator: Generator | None = None,
) -> TaskEvaluation:
    """Generate, grade and aggregate one task. `generator` (harness.generation.open_generator) serves every task of
    an evaluated model from one vLLM engine; without one, `backend` builds a generator for this task alone."""
    sampling = cfg.sampling()
    prompts = [ex.prompt for ex in items]
    if generator is not None:
        completions = generator.generate(prompts, sampling, progress, f"eval {task.name}")
    else:
        completions = generate_with(backend, model, tokenizer, prompts, sampling, progress, f"eval {task.name}")
    flat = [(ex, comp) for ex, comps in zip(items, completions, strict=True) for comp in comps]
    grades = iter(task.grade_batch([comp.text for _, comp in flat], [ex for ex, _ in flat]))
    samples, item_scores, passes = [], [], []
    lengths, truncated = [], 0
    for i, (ex, comps) in enumerate(zip(items, completions, strict=True)):
        correct = 0
        for j, comp in enumerate(comps):
            grade = next(grades)
            correct += grade.correct
            lengths.append(comp.length)
            truncated += comp.finish_reason == "length"
            samples.append(
                {
                    "item": i,
                    "sample": j,
                    "prompt": ex.prompt if isinstance(ex.prompt, str) else list(ex.prompt),
                    "reference": ex.answer,
                    "completion": comp.text,
                    "extracted": grade.extracted,
                    "correct": grade.correct,
                    "length": comp.length,
                    "finish_reason": comp.finish_reason,
                }
            )
        item_scores.append(correct / len(comps))
        passes.append(pass_at_k(len(comps), correct, cfg.k))
    n_samples = len(lengths)
    avg = sum(item_scores) / len(item_scores)
    metrics = {
        "role": role,
        "score": round(100 * avg, 4),
        "metric": f"avg@{cfg.k}",
        "n": len(items),
        "k": cfg.k,
        "avg@k": avg,
        "pass@k": sum(passes) / len(passes),
        "mean_length": sum(lengths) / n_samples,
        "truncated": truncated / n_samples,
        "extraction_failures": sum(s["extracted"] is None for s in samples) / n_samples,
        "wrong_answers": sum(s["extracted"] is not None and not s["correct"] for s in samples) / n_samples,
        "task_version": task.config.version,
        "item_scores": item_scores,
    }
    if items and all(has_serial_chain(ex) for ex in items):  # ksparse: accuracy of every chain position
        metrics["chain_accuracy"] = step_accuracy([ex for ex, _ in flat], [comp.text for _, comp in flat])
    metrics.update(task.headline(samples, cfg.k) or {})
    return TaskEvaluation(task.name, role, metrics, samples)


def summarize(results: list[TaskEvaluation]) -> dict[str, float | None]:
    """Domain and general scores: the mean of the task scores of each role (0-100).

    Entries with a status other than "ok" (a general benchmark that is unavailable, skipped or dropped) do not count.
    """
    out: dict[str, float | None] = {}
    for role in ("domain", "general"):
        scores = [r.metrics["score"] for r in results if r.role == role and r.metrics.get("status", "ok") == "ok"]
        out[role] = round(sum(scores) / len(scores), 4) if scores else None
    return out
