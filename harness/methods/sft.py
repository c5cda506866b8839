"""sft: supervised fine-tuning with TRL's SFTTrainer, token-mean NLL on the completion only.

SFTMethod is also the base of the SFT family: a variant sets `loss_type` (a TRL loss, as dft does) or
`trainer_class` (an SFTTrainer subclass with its own compute_loss, as talr, l2, kl, flow and iw-sft
do) plus `trainer_kwargs` for that class's extra arguments.
"""

from __future__ import annotations

from typing import Any, ClassVar

from trl import SFTTrainer

from harness.methods.base import Method, MethodConfig, TrainContext, sft_args


def sft_trainer(ctx: TrainContext, config: MethodConfig, *, loss_type: str = "nll",
                trainer_class: type[SFTTrainer] = SFTTrainer, **trainer_kwargs: Any) -> SFTTrainer:
    """A trainer of the SFT family on ctx's model, tokenizer and dataset (completion-only, the track's length)."""
    return trainer_class(
        model=ctx.model,
        args=sft_args(ctx, config, loss_type=loss_type),
        train_dataset=ctx.train_dataset,
        processing_class=ctx.tokenizer,
        **trainer_kwargs,
    )


class SFTMethod(Method):
    name = "sft"
    loss_type: ClassVar[str] = "nll"
    trainer_class: ClassVar[type[SFTTrainer]] = SFTTrainer

    def trainer_kwargs(self, ctx: TrainContext, config: MethodConfig) -> dict[str, Any]:
        """Extra constructor arguments of `trainer_class` (a penalty coefficient, a reference model...)."""
        return {}

    def build_trainer(self, ctx: TrainContext, config: MethodConfig) -> SFTTrainer:
        return sft_trainer(ctx, config, loss_type=self.loss_type, trainer_class=self.trainer_class,
                           **self.trainer_kwargs(ctx, config))
