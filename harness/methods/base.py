"""What a method is: a config class for its hyperparameters (harness.methods.configs) and a way to train
under the harness's meter.

Most methods only implement `build_trainer` (a TRL trainer); the default `train` attaches the
harness's budget meter to it and trains. Methods with several phases (sample, filter, then SFT)
override `train` but still train through trainers that `meter_trainer` wraps, and still sample
only through the context's metered sampler. A method never meters itself.

`points` turns one trained model into one or more evaluated points (WiSE-FT gives one per alpha);
each point becomes its own run directory and leaderboard row.

This module imports no heavy library at import time (torch, TRL and the rest are imported where a
method trains), so a method class can sit next to its config class in a light module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from harness.methods.configs import MethodConfig

if TYPE_CHECKING:  # the heavy libraries are imported where a method trains, not where it is registered
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer
    from trl import SFTConfig

    from harness.budget import BudgetMeter
    from harness.methods import MethodSpec
    from harness.sampler import MeteredSampler
    from harness.tasks import Example, Task


def meter_trainer(trainer, meter: BudgetMeter) -> None:
    """The only way a method's trainer is metered: the harness's meter (its ledger logged with TRL's metrics at
    each logging step), plus TRL's rich progress bar."""
    from harness.budget import attach_meter
    from harness.progress import use_rich_progress

    attach_meter(trainer, meter)
    use_rich_progress(trainer)


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
    report_to: str = "none"
    """TRL's `report_to` (`harness run --report-to`): none, tensorboard, trackio or wandb. TensorBoard writes
    under output_dir/runs/; the budget ledger is logged next to TRL's metrics at each logging step."""


class Method:
    """Base class: subclasses implement `build_trainer` (or `train`). `get_method` builds one per registry entry,
    from its spec, which gives the method its name and says whether it trains and on which data."""

    def __init__(self, spec: MethodSpec) -> None:
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def trains(self) -> bool:
        return self.spec.trains

    @property
    def uses_sft_data(self) -> bool:
        """Trains on ctx.train_dataset as SFT data, so a submission's data recipe applies (RL methods: False)."""
        return self.spec.uses_sft_data

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


def efficiency(ctx: TrainContext) -> dict[str, Any]:
    """The track's `efficiency:` block as set (harness.schemas.efficiency), {} without one."""
    return dict((ctx.track or {}).get("efficiency") or {})


def efficiency_args(ctx: TrainContext) -> dict[str, Any]:
    """TrainingArguments fields from the track's efficiency block: bf16 (default: on with CUDA), gradient
    checkpointing (default off) and Liger kernels (default off)."""
    import torch

    eff = efficiency(ctx)
    cuda = torch.cuda.is_available()
    bf16 = cuda if eff.get("bf16") is None else bool(eff["bf16"])
    return dict(
        bf16=bf16,
        **({"use_cpu": True} if bf16 and not cuda else {}),  # transformers: bf16 autocast on CPU must be asked for
        gradient_checkpointing=bool(eff.get("gradient_checkpointing", False)),
        use_liger_kernel=bool(eff.get("use_liger_kernel", False)),
    )


def uses_vllm(ctx: TrainContext) -> bool:
    """The track generates through vLLM (eval.backend: vllm): GRPO/RLOO then roll out through TRL's colocated vLLM."""
    return ((ctx.track or {}).get("eval") or {}).get("backend") == "vllm"


def training_args(ctx: TrainContext, config: MethodConfig) -> dict[str, Any]:
    """TrainingArguments fields every method shares (SFT, GRPO/RLOO, DPO configs all take them): MethodConfig's
    fields under their own names (the learning rate times its scale), the track's efficiency settings (fp32 on CPU /
    bf16 on GPU unless the track says otherwise), no checkpoints, seeded data."""
    optimisation = {f: getattr(config, f) for f in MethodConfig.model_fields if not f.startswith("learning_rate")}
    return dict(
        output_dir=str(ctx.output_dir),
        learning_rate=config.learning_rate * config.learning_rate_scale,
        **optimisation,
        **efficiency_args(ctx),
        save_strategy="no",
        report_to=ctx.report_to,
        disable_tqdm=True,
        seed=ctx.seed,
        data_seed=ctx.seed,
        dataloader_num_workers=0,
    )


PADDING_FREE = dict(padding_free=True, packing=True, packing_strategy="bfd")
"""SFTConfig fields of `efficiency.padding_free`: TRL's padding-free batches, packed best-fit-decreasing (sequences never
split; TRL refuses padding-free without packing while max_length is set)."""


def sft_args(ctx: TrainContext, config: MethodConfig, **overrides: Any) -> SFTConfig:
    """The SFTConfig shared by the SFT family: completion-only loss at the track's sequence length (padding-free and
    packed when the track's efficiency block says so)."""
    from trl import SFTConfig

    packing = PADDING_FREE if efficiency(ctx).get("padding_free") else {}
    return SFTConfig(
        **training_args(ctx, config),
        max_length=ctx.max_length,
        completion_only_loss=True,
        logging_steps=10,
        **packing,
        **overrides,
    )
