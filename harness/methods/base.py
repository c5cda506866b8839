"""What a method is: a config class for its hyperparameters and a way to train under the harness's meter.

Most methods only implement `build_trainer` (a TRL trainer); the default `train` attaches the
harness's budget meter to it and trains. Methods with several phases (sample, filter, then SFT)
override `train` but still train through trainers that `meter_trainer` wraps, and still sample
only through the context's metered sampler. A method never meters itself.

`points` turns one trained model into one or more evaluated points (WiSE-FT gives one per alpha);
each point becomes its own run directory and leaderboard row.
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

from harness.budget import BudgetMeter, attach_meter
from harness.config import validation_errors
from harness.sampler import MeteredSampler
from harness.tasks import Example, Task


def meter_trainer(trainer, meter: BudgetMeter) -> None:
    """The only way a method's trainer is metered: the harness's meter, plus a rich progress bar."""
    from harness.progress import use_rich_progress

    attach_meter(trainer, meter)
    use_rich_progress(trainer)


class MethodConfig(BaseModel):
    """Hyperparameters every SFT-family method accepts. Defaults suit the tiny tracks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_rate: float = Field(1e-3, gt=0)
    """Peak learning rate (AdamW); the track's training.hyperparameters may set its default."""
    learning_rate_scale: float = Field(1.0, gt=0)
    """Multiplies learning_rate, so a baseline like "SFT at a 10x smaller rate" holds on every track."""
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
    base_model_dir: str | Path | None = None
    """The saved base model (TRL reloads reference models from a path)."""
    sampler: MeteredSampler | None = None
    """The only way a method samples from a model: it charges the meter and refuses past the caps."""
    task: Task | None = None
    """The domain training task: its grader is the reward (harness.rewards builds reward functions from it)."""
    train_examples: tuple[Example, ...] = ()
    """The domain training examples behind `train_dataset`'s prompts (answers and gold chains for rewards)."""


class Method:
    """Base class: subclasses set `name` and `config_class` and implement `build_trainer`."""

    name: ClassVar[str]
    config_class: ClassVar[type[MethodConfig]] = MethodConfig
    trains: ClassVar[bool] = True
    uses_sft_data: ClassVar[bool] = True
    """Trains on ctx.train_dataset as SFT data, so a submission's data recipe applies (RL methods: False)."""

    def parse_config(self, hyperparameters: dict[str, Any], path: str | Path = "<submission>") -> MethodConfig:
        try:
            return self.config_class.model_validate(hyperparameters)
        except ValidationError as e:
            raise validation_errors(path, e, self.config_class, prefix="hyperparameters.") from None

    def build_trainer(self, ctx: TrainContext, config: MethodConfig) -> Trainer:
        raise TypeError(f"method {self.name!r} does not train")

    def train(self, ctx: TrainContext, config: MethodConfig, meter: BudgetMeter) -> PreTrainedModel:
        """Train and return the trained model. Default: one metered TRL trainer."""
        trainer = self.build_trainer(ctx, config)
        meter_trainer(trainer, meter)
        trainer.train()
        return trainer.model

    def points(
        self, model: PreTrainedModel, ctx: TrainContext, config: MethodConfig
    ) -> list[tuple[str | None, PreTrainedModel]]:
        """(label, model) pairs to evaluate; None labels the single point of an ordinary run."""
        return [(None, model)]


def training_args(ctx: TrainContext, config: MethodConfig) -> dict[str, Any]:
    """TrainingArguments fields every method shares (SFT, GRPO/RLOO, DPO configs all take them):
    the method's optimisation hyperparameters, fp32 on CPU / bf16 on GPU, no checkpoints, seeded data."""
    import torch

    return dict(
        output_dir=str(ctx.output_dir),
        learning_rate=config.learning_rate * config.learning_rate_scale,
        per_device_train_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        num_train_epochs=config.num_train_epochs,
        max_steps=config.max_steps,
        lr_scheduler_type=config.lr_scheduler_type,
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        bf16=torch.cuda.is_available(),
        gradient_checkpointing=False,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=ctx.seed,
        data_seed=ctx.seed,
        dataloader_num_workers=0,
    )


def sft_args(ctx: TrainContext, config: MethodConfig, **overrides: Any) -> SFTConfig:
    """The SFTConfig shared by the SFT family: completion-only loss at the track's sequence length."""
    return SFTConfig(
        **training_args(ctx, config),
        max_length=ctx.max_length,
        completion_only_loss=True,
        logging_steps=10,
        **overrides,
    )
