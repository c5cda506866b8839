"""lora: the SFT objective on low-rank adapters (PEFT LoRA through SFTTrainer's peft_config), merged after training.

Only the adapters train; `train` merges them into the base weights (merge_and_unload), so the run is
evaluated, saved and compared as a plain model with the base's parameter names. The budget ledger
records the adapter count as `trainable_parameters` (counted by the harness's meter when training
starts). FLOPs stay 6 x all parameters x gradient tokens, as for every method: the forward and the
backward pass still run through the frozen weights, and the meter prices tokens, not updates, so a
LoRA run costs what an SFT run on the same tokens costs.
"""

from __future__ import annotations

from peft import LoraConfig as PeftLoraConfig
from pydantic import Field
from transformers import PreTrainedModel

from harness.budget import BudgetMeter
from harness.methods.base import MethodConfig, TrainContext
from harness.methods.sft import SFTMethod


class LoRAConfig(MethodConfig):
    rank: int = Field(8, ge=1)
    """Rank r of each adapter (B @ A); 8 is the common default (the DFT paper's LoRA runs use 8)."""
    alpha: float = Field(16.0, gt=0)
    """LoRA scaling numerator: the update is (alpha / rank) * B @ A; 16 = 2 x rank, the usual pairing."""
    dropout: float = Field(0.0, ge=0, lt=1)
    """Dropout on the adapter input (probability); 0 because the tiny tracks do not overfit in their budget."""
    target_modules: str | list[str] = "all-linear"
    """Module names that get adapters; "all-linear" = every linear layer but lm_head (q,k,v,o,gate,up,down in Llama)."""


class LoRAMethod(SFTMethod):
    name = "lora"
    config_class = LoRAConfig

    def trainer_kwargs(self, ctx: TrainContext, config: LoRAConfig) -> dict:
        return {"peft_config": PeftLoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                                              target_modules=config.target_modules, task_type="CAUSAL_LM")}

    def train(self, ctx: TrainContext, config: LoRAConfig, meter: BudgetMeter) -> PreTrainedModel:
        """Train the adapters under the meter, then fold them into the weights."""
        return super().train(ctx, config, meter).merge_and_unload()
