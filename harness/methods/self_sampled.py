"""What methods that train on their own graded samples share (star, rft, offline-dft, dpo).

They sample through the harness's metered sampler only (ctx.sampler), and grade every sample with the
domain task's own grader through harness.rewards, so training data and evaluation agree on "correct".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.methods.base import TrainContext
from harness.methods.configs import SampledDataConfig
from harness.rewards import score

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from harness.tasks import Example


def track_max_new_tokens(ctx: TrainContext, default: int = 32) -> int:
    return int((ctx.track.get("eval") or {}).get("max_new_tokens", default))


def require_task(ctx: TrainContext, method: str) -> None:
    if ctx.task is None or not ctx.train_examples:
        raise ValueError(f"{method} needs the domain task and its training examples in the TrainContext (for rewards)")


def require_sampler(ctx: TrainContext, method: str) -> None:
    require_task(ctx, method)
    if ctx.sampler is None:
        raise ValueError(f"{method} samples its training data and needs the harness's sampler (ctx.sampler)")


def sample_graded(
    ctx: TrainContext, config: SampledDataConfig, model: PreTrainedModel, examples: list[Example]
) -> list[list[tuple[str, bool]]]:
    """`samples_per_prompt` completions of each example's prompt from `model`, each with whether the filter accepts
    it, in example order; fewer rows than examples when a generation cap cut the batch short. Raises BudgetExceeded
    when the caps leave no room at all."""
    sampled = ctx.sampler.sample(
        model, [ex.prompt for ex in examples], k=config.samples_per_prompt, temperature=config.temperature,
        max_new_tokens=config.max_new_tokens or track_max_new_tokens(ctx),
    )
    return [[(c.text, score(config.filter, ctx.task, c.text, ex) > 0) for c in row] for ex, row in zip(examples, sampled)]
