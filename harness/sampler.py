"""The metered sampler: the only way a method (or a data recipe) samples from a model during training.

It wraps `harness.generation.generate`, charges the budget meter with the rollouts, generated tokens
(end token included) and generation FLOPs (2 x the sampling model's parameters x tokens), and
records every rollout in the run's rollout log. Before generating it checks what still fits under
the generation caps, counting every rollout at its worst case (`max_new_tokens` tokens): it samples
only the prompts that fit (returning fewer rows than prompts) and raises `BudgetExceeded` when not
one fits. Callers must cope with a short answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from harness.budget import BudgetExceeded, BudgetMeter, count_parameters
from harness.generation import Completion, SamplingConfig, generate


def generated_tokens(completion: Completion) -> int:
    """Tokens the model produced for a completion: its text tokens plus the end token when it stopped there."""
    return completion.length + (completion.finish_reason == "eos")


class MeteredSampler:
    def __init__(
        self, meter: BudgetMeter, tokenizer: PreTrainedTokenizerBase, *, max_new_tokens: int, batch_size: int = 256,
        seed: int = 0,
    ) -> None:
        self.meter = meter
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.seed = seed
        self.calls = 0

    def sample(
        self,
        model: PreTrainedModel,
        prompts: Sequence[str],
        *,
        k: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int | None = None,
        tokenizer: PreTrainedTokenizerBase | None = None,
    ) -> list[list[Completion]]:
        """k completions for each of the first prompts that fit the generation caps, in prompt order."""
        max_new = max_new_tokens or self.max_new_tokens
        params = count_parameters(model)
        room = self.meter.affordable_rollouts(max_new, params)
        n = len(prompts) if room is None else min(len(prompts), room // k)
        if n < len(prompts):
            cap = self.meter.binding_generation_cap(max_new, params)
            self.meter.stopped_by = self.meter.stopped_by or cap
            if n == 0:
                raise BudgetExceeded(cap, f"the {cap} cap leaves no room for {k} rollouts of up to {max_new} tokens")
        self.calls += 1
        sampling = SamplingConfig(
            k=k, temperature=temperature, top_p=top_p, max_new_tokens=max_new, batch_size=self.batch_size,
            seed=self.seed * 100_003 + self.calls,  # a fresh, reproducible stream per call
        )
        with self.meter.sampling_allowed():
            out = generate(model, tokenizer or self.tokenizer, list(prompts[:n]), sampling)
        self.meter.charge_generation(n * k, sum(generated_tokens(c) for row in out for c in row), params)
        if self.meter.rollout_log is not None:
            pairs = [(prompt, c.text) for prompt, row in zip(prompts, out) for c in row]
            self.meter.rollout_log.record_many([p for p, _ in pairs], [t for _, t in pairs])
        return out
