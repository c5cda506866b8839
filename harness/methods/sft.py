"""sft: supervised fine-tuning with TRL's SFTTrainer, token-mean NLL on the completion only.

SFTMethod is also the base of the SFT family: a variant sets `loss_type` (a TRL loss, as dft does),
overrides `trainer_kwargs` (lora's PEFT config), or is a token loss (harness.methods.token_loss: talr,
l2, kl, flow, iw-sft), which brings its own trainer class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from harness.methods.base import Method, MethodConfig, TrainContext, sft_args

if TYPE_CHECKING:
    from trl import SFTTrainer


def sft_trainer(ctx: TrainContext, config: MethodConfig, *, loss_type: str = "nll",
                trainer_class: type[SFTTrainer] | None = None, **trainer_kwargs: Any) -> SFTTrainer:
    """A trainer of the SFT family on ctx's model, tokenizer and dataset (completion-only, the track's length);
    `trainer_class` defaults to TRL's SFTTrainer."""
    from trl import SFTTrainer

    from harness.methods.base import efficiency

    if trainer_class is None:
        trainer_class = SFTTrainer
    elif trainer_class is not SFTTrainer and efficiency(ctx).get("padding_free"):
        # A token loss sees rows: packed, a row holds several sequences and per-sequence terms would mix them.
        raise ValueError(f"{trainer_class.__name__} computes per-sequence terms, which packed padding-free rows mix; "
                         "the track's efficiency.padding_free is for plain SFTTrainer methods (sft, dft, lora)")
    return trainer_class(
        model=ctx.model,
        args=sft_args(ctx, config, loss_type=loss_type),
        train_dataset=ctx.train_dataset,
        processing_class=ctx.tokenizer,
        **trainer_kwargs,
    )


class SFTMethod(Method):
    loss_type: ClassVar[str] = "nll"

    def trainer_kwargs(self, ctx: TrainContext, config: MethodConfig) -> dict[str, Any]:
        """Extra constructor arguments of the trainer (a PEFT config...)."""
        return {}

    def build_trainer(self, ctx: TrainContext, config: MethodConfig) -> SFTTrainer:
        return sft_trainer(ctx, config, loss_type=self.loss_type, **self.trainer_kwargs(ctx, config))
