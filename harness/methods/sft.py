"""sft: supervised fine-tuning with TRL's SFTTrainer, token-mean NLL on the completion only."""

from __future__ import annotations

from trl import SFTTrainer

from harness.methods.base import Method, MethodConfig, TrainContext, sft_args


class SFTMethod(Method):
    name = "sft"
    loss_type = "nll"

    def build_trainer(self, ctx: TrainContext, config: MethodConfig) -> SFTTrainer:
        return SFTTrainer(
            model=ctx.model,
            args=sft_args(ctx, config, loss_type=self.loss_type),
            train_dataset=ctx.train_dataset,
            processing_class=ctx.tokenizer,
        )
