"""Sampling settings: one set of fields for a track's evaluation and for every `generate` call.

`SamplingSettings` holds what both share (samples per prompt, temperature, top-p, new-token limit,
batch size, seed). `EvalConfig` (a track's `eval:` block) adds the test-set size and the backend;
`SamplingConfig` (one generation call, `harness.generation`) adds top-k, which tracks do not set.
`EvalConfig.sampling()` is the generation call evaluation makes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.schemas.base import Strict


class SamplingSettings(Strict):
    """What evaluation and generation share."""

    k: int = Field(1, ge=1, le=100000)
    """Samples per prompt (evaluation: per test item, for avg@k and pass@k)."""
    temperature: float = Field(0.0, ge=0, le=100)
    """0 means greedy decoding."""
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int = Field(48, ge=1)
    batch_size: int = Field(256, ge=1)
    """Sequences per generate call (prompts x k)."""
    seed: int = Field(0, ge=0, lt=2**32)
    """Seeds the sampling noise."""


class SamplingConfig(SamplingSettings):
    """One batched generation: `harness.generation.generate` and the metered sampler take it."""

    top_k: int = Field(0, ge=0)
    """0 disables top-k (transformers would otherwise silently use 50)."""


class EvalConfig(SamplingSettings):
    """Evaluation settings shared by every submission of the track."""

    n_test: int = Field(200, ge=1)
    """Test items per task."""
    seed: int = Field(1234, ge=0, lt=2**32)
    """Fixes the test items and the sampling noise, so every run sees the same items."""
    backend: Literal["transformers", "vllm"] = "transformers"
    """Generation backend; vllm is an optional extra (GPU)."""

    def sampling(self) -> SamplingConfig:
        """The generation settings of evaluation (top-k off)."""
        return SamplingConfig(**self.model_dump(include=set(SamplingSettings.model_fields)))
