"""wise-ft: WiSE-FT weight averaging (Wortsman et al. 2022): train like SFT, then evaluate
theta(alpha) = (1 - alpha) * theta_base + alpha * theta_ft for each alpha in `alphas`.

One training run, several evaluated points: each alpha becomes its own run directory
(`<submission>@alpha=<a>/seed<N>`) and its own leaderboard row, and every point carries the same
budget ledger (the interpolation costs no training). alpha = 0 is the base model, bit for bit;
alpha = 1 is the fine-tuned model, bit for bit. theta_base is reloaded from the track's saved base
model, so the method keeps no state between `train` and `points`.
"""

from __future__ import annotations

import copy

import torch
from transformers import PreTrainedModel

from harness.schemas import BaseModelConfig
from harness.methods.base import TrainContext
from harness.methods.configs import WiSEFTConfig, point_label
from harness.methods.sft import SFTMethod
from harness.models import LoadPolicy, load_model


def interpolate(base: PreTrainedModel, finetuned: PreTrainedModel, alpha: float) -> PreTrainedModel:
    """A new model with weights (1 - alpha) * base + alpha * finetuned (exact at alpha 0 and 1).

    The copy is made of `base`, freshly loaded: a trained model carries TRL's fused-LM-head patch, whose
    closure still points at the original, so a deep copy of it would run the original's weights.
    """
    tuned = dict(finetuned.named_parameters())
    like = next(finetuned.parameters())
    point = copy.deepcopy(base).to(device=like.device, dtype=like.dtype)
    with torch.no_grad():
        for name, p in point.named_parameters():  # tied weights are listed once, so mixed once
            p.copy_((1 - alpha) * p + alpha * tuned[name])
    return point


class WiSEFTMethod(SFTMethod):
    def points(
        self, model: PreTrainedModel, ctx: TrainContext, config: WiSEFTConfig
    ) -> list[tuple[str | None, PreTrainedModel]]:
        if ctx.base_model_dir is None:
            raise ValueError("wise-ft needs the saved base model to interpolate from (TrainContext.base_model_dir)")
        cfg = ctx.track.get("base_model")  # the track's loading policy for its base model (dtype, device, remote code)
        policy = LoadPolicy.for_base_model(BaseModelConfig.model_validate(cfg)) if cfg else LoadPolicy.default()
        base = load_model(ctx.base_model_dir, policy)
        return [(point_label(a), interpolate(base, model, a)) for a in config.alphas]
