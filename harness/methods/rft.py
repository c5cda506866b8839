"""rft: rejection-sampling fine-tuning, one STaR round from the base model.

Sample from the base model through the metered sampler, keep the samples the filter accepts (the
task's grader by default), and fine-tune on them with TRL's SFTTrainer.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.methods.star import StarConfig, StarMethod


class RFTConfig(StarConfig):
    rounds: Literal[1] = 1
    """Rejection-sampling fine-tuning is one round: sample from the base model, keep correct, SFT."""
    prompts_per_round: int | None = Field(None, ge=1)
    """Training prompts to sample; None: all of them."""
    num_train_epochs: float = Field(3.0, gt=0)


class RFTMethod(StarMethod):
    name = "rft"
    config_class = RFTConfig
