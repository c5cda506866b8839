"""Token losses: a method whose idea is its loss is one `loss` function of the batch and its config.

Subclass `TokenLoss`, write `loss(self, batch, config) -> (loss, logs)`, and the base trainer
(harness.methods.token_trainer.TokenLossTrainer, an SFTTrainer) does the rest: one forward through TRL's
fused LM head gives the per-token log-probs, your function turns them into a scalar, the trainer logs
what TRL logs for SFT (entropy, mean_token_accuracy, num_tokens) plus your `logs`, and gradient
accumulation, the budget meter and every SFTConfig setting work as for sft. The config object is the
method's config class, parsed from the submission: read `config.<field>`, declare nothing twice.

`batch` (a TokenBatch) offers `log_probs` and `label_mask` (B, T-1), `mean(values)` (the mean over
supervised tokens that adds up correctly under gradient accumulation), `once_per_step(penalty)` for a
term that is not a token mean, and, when the class sets `reference = True`, `reference_log_probs` and
`reference_weights` of a frozen copy of the starting model. `sequence_weights` computes per-sequence
weights once before the first step (FLOW); they arrive as `batch.sequence_weights`.

This module imports nothing heavy, so a plugin can keep its loss next to its config class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from harness.methods.sft import SFTMethod, sft_trainer

if TYPE_CHECKING:
    import torch

    from harness.methods.base import MethodConfig, TrainContext
    from harness.methods.token_trainer import TokenBatch, TokenLossTrainer


class TokenLoss(SFTMethod, ABC):
    """An SFT-family method defined by its `loss`; see the module docstring."""

    reference: ClassVar[bool | str] = False
    """True: keep a frozen copy of the model as it is before training (batch.reference_log_probs/_weights; the
    budget meter charges its forward passes as role "reference"); "weights": keep only its parameters
    (batch.reference_weights), which cost no forward pass."""

    @abstractmethod
    def loss(self, batch: TokenBatch, config: MethodConfig) -> tuple[torch.Tensor, dict[str, Any]]:
        """(the micro-batch's scalar loss, extra values to log: floats or 0-d tensors). Every TokenLoss defines it:
        a subclass without one cannot be instantiated (TypeError when the registry first builds it)."""

    def sequence_weights(self, trainer: TokenLossTrainer, config: MethodConfig) -> tuple[torch.Tensor, dict] | None:
        """Per-sequence weights in dataset order, computed once before training, and values to record about them
        (kept in trainer.sequence_weight_stats and logged with the first step); None: no weights."""
        return None

    def build_trainer(self, ctx: TrainContext, config: MethodConfig) -> TokenLossTrainer:
        from harness.methods.token_trainer import TokenLossTrainer

        return sft_trainer(ctx, config, trainer_class=TokenLossTrainer, method=self, method_config=config)
