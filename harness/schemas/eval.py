"""Sampling settings: one set of fields for a track's evaluation and for every `generate` call.

`SamplingSettings` holds what both share (samples per prompt, temperature, top-p, new-token limit,
batch size, seed). `EvalConfig` (a track's `eval:` block) adds the test-set size and the backend;
`SamplingConfig` (one generation call, `harness.generation`) adds top-k, which tracks do not set.
`EvalConfig.sampling()` is the generation call evaluation makes.
"""

from __future__ import annotations

from typing import Literal

from harness.schemas.base import Strict


class SamplingSettings(Strict):
    """What evaluation and generation share."""

    k: int = 1
    """Samples per prompt (evaluation: per test item, for avg@k and pass@k)."""
    temperature: float = 0.0
    """0 means greedy decoding."""
    top_p: float = 1.0
    max_new_tokens: int = 48
    batch_size: int = 256
    """Sequences per generate call (prompts x k)."""
    seed: int = 0
    """Seeds the sampling noise."""


class SamplingConfig(SamplingSettings):
    """One batched generation: `harness.generation.generate` and the metered sampler take it."""

    top_k: int = 0
    """0 disables top-k (transformers would otherwise silently use 50)."""


class EvalConfig(SamplingSettings):
    """Evaluation settings shared by every submission of the track."""

    n_test: int = 200
    """Test items per task."""
    seed: int = 1234
    """Fixes the test items and the sampling noise, so every run sees the same items."""
    backend: Literal["transformers", "vllm"] = "transformers"
    """Generation backend; vllm is an optional extra (GPU)."""

    def sampling(self) -> SamplingConfig:
        """The generation settings of evaluation (top-k off)."""
        return SamplingConfig(**self.model_dump(include=set(SamplingSettings.model_fields)))
