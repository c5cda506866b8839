"""What a method is: a config class for its hyperparameters and a function that builds a TRL trainer.

A method never trains by itself and never meters itself: the harness builds the trainer through
the method, attaches the budget meter, and calls `train()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from datasets import Dataset
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer
from trl import SFTConfig

from harness.config import validation_errors


class MethodConfig(BaseModel):
    """Hyperparameters every SFT-family method accepts. Defaults suit the tiny tracks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_rate: float = Field(1e-3, gt=0)
    """Peak learning rate (AdamW)."""
    per_device_train_batch_size: int = Field(32, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    num_train_epochs: float = Field(3.0, gt=0)
    """Passes over the track's domain training data; the budget may stop training earlier."""
    max_steps: int = -1
    """Optimizer steps; -1 means use num_train_epochs. The track's budget still caps it."""
    lr_scheduler_type: str = "cosine"
    warmup_steps: int = Field(10, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, ge=0)


@dataclass(frozen=True)
class TrainContext:
    """Everything a method may use. The track is read-only: a method cannot change the playing field."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    train_dataset: Dataset
    output_dir: Path
    seed: int
    track: MappingProxyType  # the resolved track config, read-only
    max_length: int


class Method:
    """Base class: subclasses set `name` and `config_class` and implement `build_trainer`."""

    name: ClassVar[str]
    config_class: ClassVar[type[MethodConfig]] = MethodConfig
    trains: ClassVar[bool] = True

    def parse_config(self, hyperparameters: dict[str, Any], path: str | Path = "<submission>") -> MethodConfig:
        try:
            return self.config_class.model_validate(hyperparameters)
        except ValidationError as e:
            raise validation_errors(path, e, self.config_class, prefix="hyperparameters.") from None

    def build_trainer(self, ctx: TrainContext, config: MethodConfig) -> Trainer:
        raise TypeError(f"method {self.name!r} does not train")


def sft_args(ctx: TrainContext, config: MethodConfig, **overrides: Any) -> SFTConfig:
    """The SFTConfig shared by the SFT family: fp32 on CPU, no checkpoints, completion-only loss."""
    import torch

    on_gpu = torch.cuda.is_available()
    return SFTConfig(
        output_dir=str(ctx.output_dir),
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        num_train_epochs=config.num_train_epochs,
        max_steps=config.max_steps,
        lr_scheduler_type=config.lr_scheduler_type,
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        max_length=ctx.max_length,
        completion_only_loss=True,
        bf16=on_gpu,
        gradient_checkpointing=False,
        save_strategy="no",
        report_to="none",
        logging_steps=10,
        disable_tqdm=True,
        seed=ctx.seed,
        data_seed=ctx.seed,
        dataloader_num_workers=0,
        **overrides,
    )
