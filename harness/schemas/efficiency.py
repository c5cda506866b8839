"""A track's `efficiency:` block: speed settings TRL and transformers already offer, fixed by the track.

Every field maps onto one existing setting (harness.methods.base.training_args, harness.models): nothing here
is implemented by the harness itself. Unset fields keep the harness's defaults; a track without the block keeps
its track version (harness.config.track_version leaves an unset block out of the hash).
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from harness.schemas.base import Strict

ATTENTION_IMPLEMENTATIONS = ("eager", "sdpa", "flash_attention_2")
"""transformers' `attn_implementation` values a track may ask for."""


class EfficiencyConfig(Strict):
    """How fast a track trains (and loads its model): the same numbers up to floating-point, less time.

    All runs of a track share these settings, so methods still compare on equal footing."""

    bf16: bool | None = None
    """TrainingArguments.bf16 (bfloat16 autocast). None: on when CUDA is available, else off (the default)."""
    attn_implementation: Literal["eager", "sdpa", "flash_attention_2"] | None = None
    """transformers' attention kernel for the base model (`from_pretrained(attn_implementation=...)`). None:
    transformers' default (sdpa where the model supports it). flash_attention_2 needs the flash-attn package."""
    gradient_checkpointing: bool = False
    """TrainingArguments.gradient_checkpointing: recompute activations in the backward pass (less memory, about a
    third more compute). Off by default: leave it off where memory allows."""
    use_liger_kernel: bool = False
    """TrainingArguments.use_liger_kernel: Liger's fused RMSNorm/RoPE/SwiGLU kernels (TRL keeps its own fused LM
    head). Needs the liger-kernel package; a run is refused before any work without it."""
    padding_free: bool = False
    """SFT family only (SFTConfig): TRL's padding-free batches, packed best-fit-decreasing (`packing=True,
    packing_strategy="bfd"`, sequences never split, longer ones cut at the track's max_length). A micro-batch is
    then `per_device_train_batch_size` rows of up to max_length tokens, not that many examples. Needs
    attn_implementation flash_attention_2 (other kernels would let packed sequences attend to each other)."""

    @model_validator(mode="after")
    def _padding_free_needs_flash_attention(self):
        if self.padding_free and self.attn_implementation != "flash_attention_2":
            raise ValueError("padding_free packs several sequences into one row, which only flash_attention_2 keeps "
                             "apart; set attn_implementation: flash_attention_2 or padding_free: false")
        return self

    def requested(self) -> dict[str, object]:
        """The fields a track set, as written (what the run records as asked for)."""
        return self.model_dump(exclude_unset=True)


__all__ = ["ATTENTION_IMPLEMENTATIONS", "EfficiencyConfig"]
