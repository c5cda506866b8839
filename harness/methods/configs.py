"""Every built-in method's hyperparameters, declared once: the config classes submissions are checked against.

This module imports only pydantic and light harness modules, so `harness validate` checks a submission
without importing torch, TRL or PEFT. A method's implementation receives the parsed config object and
reads its fields directly (a loss function takes `config.floor`, a trainer builder `config.rank`), so a
hyperparameter is never restated as a constructor argument or a keyword list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from harness.schemas import Strict
from harness.validation import validation_errors
from harness.rewards import RewardName

SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
              "inverse_sqrt")
"""transformers' SchedulerType values (TrainingArguments.lr_scheduler_type) that a run can use as it is: the others
need an evaluation strategy (reduce_lr_on_plateau, greedy) or lr_scheduler_kwargs (cosine_with_min_lr,
cosine_warmup_with_min_lr, warmup_stable_decay), which a submission cannot set. tests/hostile/test_choices.py checks
this split against the installed transformers (importing it here would import torch into `harness validate`)."""
UNUSABLE_SCHEDULERS = ("reduce_lr_on_plateau", "greedy", "cosine_with_min_lr", "cosine_warmup_with_min_lr",
                       "warmup_stable_decay")

MAX_LEARNING_RATE = 1.0
"""The largest effective learning rate (learning_rate x learning_rate_scale) a run may use: AdamW's step is about
the learning rate per weight, so anything above 1 only makes NaN."""


class Hyperparameters(Strict):
    """Strict, frozen hyperparameters: unknown fields are errors that list the allowed ones; numbers are finite,
    never booleans, and inside the range each field states."""

    @classmethod
    def parse(cls, hyperparameters: dict[str, Any], path: str | Path = "<submission>"):
        """Validate a submission's `hyperparameters`; errors name `hyperparameters.<field>` in `path`."""
        try:
            return cls.model_validate(hyperparameters)
        except ValidationError as e:
            raise validation_errors(path, e, cls, prefix="hyperparameters.") from None


class NoHyperparameters(Hyperparameters):
    """The base model takes no hyperparameters."""


class MethodConfig(Hyperparameters):
    """Hyperparameters every training method accepts (the SFT family uses exactly these). Defaults suit the tiny
    tracks."""

    learning_rate: float = Field(1e-3, gt=0, le=MAX_LEARNING_RATE)
    """Peak learning rate (AdamW), in (0, 1]; the track's training.hyperparameters may set its default."""
    learning_rate_scale: float = Field(1.0, gt=0, le=1000)
    """Multiplies learning_rate, so a baseline like "SFT at a 10x smaller rate" holds on every track; in (0, 1000],
    and the product with learning_rate must lie in (0, 1] too."""
    per_device_train_batch_size: int = Field(32, ge=1, le=65536)
    gradient_accumulation_steps: int = Field(1, ge=1, le=65536)
    num_train_epochs: float = Field(3.0, gt=0, le=1000)
    """Passes over the track's domain training data, in (0, 1000]; the budget may stop training earlier."""
    max_steps: int = Field(-1, ge=-1)
    """Optimizer steps; -1 means use num_train_epochs. The track's budget still caps it."""
    lr_scheduler_type: str = "cosine"
    """One of SCHEDULERS (transformers' names)."""
    warmup_steps: int = Field(10, ge=0)
    weight_decay: float = Field(0.0, ge=0, le=1)
    """Decoupled weight decay (AdamW), in [0, 1]."""
    max_grad_norm: float = Field(1.0, ge=0, le=1e6)
    """Gradient clipping norm, in [0, 1e6]; 0 turns clipping off."""

    @field_validator("lr_scheduler_type")
    @classmethod
    def _known_scheduler(cls, value: str) -> str:
        if value in UNUSABLE_SCHEDULERS:
            raise ValueError(f"scheduler {value!r} needs an evaluation strategy or lr_scheduler_kwargs, which a "
                             f"submission cannot set; use one of: {', '.join(SCHEDULERS)}")
        if value not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {value!r}; one of: {', '.join(SCHEDULERS)}")
        return value

    @field_validator("learning_rate_scale")
    @classmethod
    def _effective_rate(cls, scale: float, info: ValidationInfo) -> float:
        if "learning_rate" not in info.data:  # the rate itself was refused
            return scale
        rate = info.data["learning_rate"] * scale
        if not 0 < rate <= MAX_LEARNING_RATE:
            raise ValueError(f"learning_rate x learning_rate_scale = {info.data['learning_rate']:g} x {scale:g} = "
                             f"{rate:g} must lie in (0, {MAX_LEARNING_RATE:g}]: lower one of them")
        return scale


# ------------------------------------------------------------------------------------------- token losses


class TALRConfig(MethodConfig):
    floor: float = Field(0.01, ge=0, le=1)
    """Minimum token weight, so no target token is ignored entirely (0.01 in the paper)."""


class KLConfig(MethodConfig):
    coef: float = Field(1e-3, ge=0, le=1e6)
    """In [0, 1e6]. Weight of the per-token k3 KL against the per-token NLL (both token means); 0.001 as in the TALR paper."""


class L2Config(MethodConfig):
    coef: float = Field(1e-3, ge=0, le=1e6)
    """In [0, 1e6] (1e6 pins the weights to the base). Penalty per unit of summed squared weight drift; at 1e-3 a tiny-arith run ends with drift ~35 (penalty ~0.04
    against an NLL ~0.6) and keeps general ability SFT loses. 0 is plain SFT."""


class FLOWConfig(MethodConfig):
    temperature: float | None = Field(None, gt=0, le=1000)
    """tau in nats (0, 1000] per token; None uses the median pre-trained sequence loss, the paper's parameter-free choice."""


class IWSFTConfig(MethodConfig):
    temperature: float = Field(1.0, gt=0, le=1000)
    """In (0, 1000]. Multiplies the mean per-token log-ratio before exp (dimensionless); 1.0 as in the authors' code."""
    max_weight: float = Field(16.0, gt=0, le=1e6)
    """Upper clip of a sequence's weight, to bound the variance; 16 as in the authors' code."""


# ------------------------------------------------------------------------------- other forgetting mitigations


class LoRAConfig(MethodConfig):
    rank: int = Field(8, ge=1, le=65536)
    """Rank r of each adapter (B @ A); 8 is the common default (the DFT paper's LoRA runs use 8)."""
    alpha: float = Field(16.0, gt=0, le=1e6)
    """LoRA scaling numerator: the update is (alpha / rank) * B @ A; 16 = 2 x rank, the usual pairing."""
    dropout: float = Field(0.0, ge=0, lt=1)
    """Dropout on the adapter input (probability); 0 because the tiny tracks do not overfit in their budget."""
    target_modules: str | list[str] = "all-linear"
    """Module names that get adapters; "all-linear" = every linear layer but lm_head (q,k,v,o,gate,up,down in Llama)."""


def point_label(alpha: float) -> str:
    """The run-directory and leaderboard label of one WiSE-FT point."""
    return f"alpha={alpha:g}"


class WiSEFTConfig(MethodConfig):
    alphas: list[float] = Field(default_factory=lambda: [0.5], min_length=1)
    """Mixing weights of the fine-tuned model (0 = base, 1 = fine-tuned), one evaluated point each; a number or a
    list. 0.5, the plain average, is the WiSE-FT paper's default."""

    @field_validator("alphas", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @field_validator("alphas")
    @classmethod
    def _in_unit_interval(cls, value: list[float]) -> list[float]:
        if any(not 0.0 <= a <= 1.0 for a in value):
            raise ValueError("every alpha must lie in [0, 1]")
        if len({point_label(a) for a in value}) != len(value):
            raise ValueError("alphas must be distinct")
        return value


# ------------------------------------------------------------------------------------------- RL (GRPO family)


class RLConfig(MethodConfig):
    """What GRPO-family methods share: rollouts, rewards, and RL-sized defaults."""

    learning_rate: float = Field(2e-4, gt=0, le=MAX_LEARNING_RATE)
    per_device_train_batch_size: int = Field(64, ge=1)
    """Completions per micro-batch (per_device_train_batch_size / num_generations prompts)."""
    num_train_epochs: float = Field(1.0, gt=0, le=1000)
    """Passes over the domain training prompts; the budget usually stops training first."""
    lr_scheduler_type: str = "constant"
    warmup_steps: int = Field(0, ge=0)
    num_generations: int = Field(8, ge=2)
    """Completions sampled per prompt (the group)."""
    temperature: float = Field(1.0, gt=0, le=100)
    """Sampling temperature of the rollouts, in (0, 100]."""
    top_p: float = Field(1.0, gt=0, le=1)
    max_completion_length: int | None = Field(None, ge=1)
    """Token limit of a rollout; None: the track's eval max_new_tokens."""
    rewards: list[RewardName] = Field(default_factory=lambda: ["outcome"], min_length=1)
    """Reward functions from harness.rewards, summed (weighted by reward_weights). Each names its granularity:
    outcome, process and format are sequence rewards; step is paper 001's per-step process reward, given to each
    chain step's own tokens (grpo and reinforce only)."""
    step_credit: Literal["step", "return"] = "step"
    """With a step reward: a step's tokens are credited with its own reward (step, paper 001's Eq. 6) or with the sum
    of its own and every later step's reward (return, the per-token return)."""
    reward_weights: list[float] | None = None
    """One finite weight per reward, each in [-1e6, 1e6]."""
    mask_truncated_completions: bool = False
    """Exclude completions cut by max_completion_length from the loss."""
    logging_steps: int = Field(5, ge=1)

    @model_validator(mode="after")
    def _groups_fit(self):
        batch = self.per_device_train_batch_size * self.gradient_accumulation_steps
        if batch % self.num_generations:
            raise ValueError(
                f"per_device_train_batch_size x gradient_accumulation_steps ({batch}) must be a multiple of "
                f"num_generations ({self.num_generations}): each generation batch holds whole groups"
            )
        if self.reward_weights is not None and len(self.reward_weights) != len(self.rewards):
            raise ValueError(f"reward_weights needs one weight per reward ({len(self.rewards)})")
        if self.reward_weights is not None and any(abs(w) > 1e6 for w in self.reward_weights):
            raise ValueError(f"every reward weight must lie in [-1e6, 1e6] (got {self.reward_weights})")
        return self


class GRPOMethodConfig(RLConfig):
    loss_type: Literal["grpo", "dr_grpo", "dapo", "bnpo"] = "dapo"
    """Loss normalisation (TRL): grpo per sequence, dr_grpo by batch x max length, dapo/bnpo by active tokens."""
    beta: float = Field(0.0, ge=0, le=1000)
    """KL coefficient against the base model, in [0, 1000] (reloaded from its saved directory when > 0)."""
    epsilon: float = Field(0.2, gt=0, le=100)
    epsilon_high: float | None = Field(None, gt=0, le=100)
    """Upper clip of the ratio (DAPO's clip-higher); None: epsilon."""
    scale_rewards: Literal["group", "batch", "none"] = "group"
    num_iterations: int = Field(1, ge=1)
    """Optimisation passes over each generation batch."""


class RLOOMethodConfig(RLConfig):
    num_generations: int = Field(4, ge=2)

    @field_validator("rewards")
    @classmethod
    def _sequence_rewards_only(cls, value: list[str]) -> list[str]:
        if "step" in value:
            raise ValueError("rloo takes sequence rewards only (outcome, process, format); for the step reward use "
                             "grpo or reinforce")
        return value

    beta: float = Field(0.0, ge=0, le=1000)
    """KL coefficient against the base model, in [0, 1000]."""
    epsilon: float = Field(0.2, gt=0, le=100)
    num_iterations: int = Field(1, ge=1)
    normalize_advantages: bool = False


class ReinforceConfig(RLConfig):
    """GRPO-family options minus the ones REINFORCE fixes (loss_type, beta, epsilon, scale_rewards, num_iterations)."""


# ------------------------------------------------------------------------------------ self-sampled data


class SampledDataConfig(MethodConfig):
    samples_per_prompt: int = Field(4, ge=1)
    temperature: float = Field(1.0, gt=0, le=100)
    """Sampling temperature of the rollouts, in (0, 100]."""
    max_new_tokens: int | None = Field(None, ge=1)
    """Token limit of a rollout; None: the track's eval max_new_tokens."""
    filter: Literal["outcome", "process"] = "outcome"
    """What counts as a good sample: a correct final answer, or also a fully correct chain of thought."""
    num_train_epochs: float = Field(1.0, gt=0, le=1000)
    """Passes over the kept samples (per round)."""
    warmup_steps: int = Field(0, ge=0)


class StarConfig(SampledDataConfig):
    rounds: int = Field(3, ge=1)
    """Sample-filter-train rounds."""
    prompts_per_round: int | None = Field(256, ge=1)
    """Training prompts sampled each round (drawn anew per round); None: all of them."""


class RFTConfig(StarConfig):
    """rft: rejection-sampling fine-tuning, one STaR round from the base model (StarMethod with these settings):
    sample through the metered sampler, keep the samples the filter accepts, fine-tune on them with SFTTrainer."""

    rounds: Literal[1] = 1
    """Rejection-sampling fine-tuning is one round: sample from the base model, keep correct, SFT."""
    prompts_per_round: int | None = Field(None, ge=1)
    """Training prompts to sample; None: all of them."""
    num_train_epochs: float = Field(3.0, gt=0, le=1000)


class DPOMethodConfig(SampledDataConfig):
    learning_rate: float = Field(1e-4, gt=0, le=MAX_LEARNING_RATE)
    beta: float = Field(0.1, gt=0, le=1000)
    """Strength of the implicit KL to the reference (base) model."""
    loss_type: Literal["sigmoid", "ipo", "hinge"] = "sigmoid"
    prompts: int | None = Field(512, ge=1)
    """Training prompts to sample pairs for; None: all of them."""
    samples_per_prompt: int = Field(4, ge=2)
    """A pair needs an accepted and a rejected completion of the same prompt."""
