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
from transformers import PreTrainedModel

from harness.budget import BudgetMeter
from harness.methods.base import TrainContext
from harness.methods.configs import LoRAConfig
from harness.methods.sft import SFTMethod


class LoRAMethod(SFTMethod):
    def trainer_kwargs(self, ctx: TrainContext, config: LoRAConfig) -> dict:
        return {"peft_config": PeftLoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                                              target_modules=config.target_modules, task_type="CAUSAL_LM")}

    def train(self, ctx: TrainContext, config: LoRAConfig, meter: BudgetMeter) -> PreTrainedModel:
        """Train the adapters under the meter, then fold them into the weights."""
        return super().train(ctx, config, meter).merge_and_unload()
