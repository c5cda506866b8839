"""kl: SFT plus coef * KL(policy || base) on the supervised tokens, with the k3 estimator.

Per supervised token, with d = log p_base(y_t) - log p_theta(y_t) at the demonstrated token y_t:
k3 = exp(d) - d - 1 (>= 0, the DeepSeek-R1 / GRPO estimator of KL(p_theta || p_base) when y_t is drawn
from p_theta; here the tokens are the demonstrations, as in the TALR paper's Appendix C.4). It is
averaged over the supervised tokens exactly like the NLL (divided by the same token count, so gradient
accumulation adds up to the mean over the whole batch). The base log-probabilities come from a frozen
copy of the model taken when the trainer is built, under torch.no_grad, through TRL's fused LM head.
coef 0.001 is the paper's value. At the start the policy equals the base, so the penalty and its
gradient (1 - p_base / p_theta per token) are zero: the first step is an SFT step.
"""

from __future__ import annotations

import copy

import torch
from pydantic import Field
from transformers import PreTrainedModel
from trl import SFTTrainer
from trl.trainer.utils import add_fused_lm_head

from harness.methods.base import MethodConfig, TrainContext
from harness.methods.losses import label_log_probs, token_mean
from harness.methods.sft import SFTMethod


def frozen_reference(model: PreTrainedModel) -> PreTrainedModel:
    """A frozen copy of `model` (taken before training) whose forward accepts fused_lm_head=True."""
    if "forward" in vars(model):
        # A patched forward (TRL's fused head) closes over the original model: a copy would run its weights.
        raise ValueError("frozen_reference needs the model before any trainer patched it; copy it first")
    ref = copy.deepcopy(model).eval().requires_grad_(False)
    add_fused_lm_head(ref)
    return ref


@torch.no_grad()
def reference_log_probs(ref: PreTrainedModel, inputs: dict, device: torch.device) -> torch.Tensor:
    """log p_ref of each next-token label, (B, T-1), 0 where the label is -100; the reference follows `device`."""
    if next(ref.parameters()).device != device:
        ref.to(device)
    return ref(**inputs, fused_lm_head=True).log_probs


def k3_kl(log_probs: torch.Tensor, ref_log_probs: torch.Tensor, label_mask: torch.Tensor,
          num_items: torch.Tensor | int | None = None) -> torch.Tensor:
    """Mean over supervised tokens of exp(d) - d - 1, d = ref - policy log-prob; `num_items` overrides the count."""
    d = (ref_log_probs - log_probs) * label_mask
    return token_mean(torch.exp(d) - d - 1, label_mask, num_items)


class KLConfig(MethodConfig):
    coef: float = Field(1e-3, ge=0)
    """Weight of the per-token k3 KL against the per-token NLL (both token means); 0.001 as in the TALR paper."""


class KLTrainer(SFTTrainer):
    def __init__(self, *args, ref_model: PreTrainedModel, coef: float = 1e-3, **kwargs):
        super().__init__(*args, **kwargs)
        self.ref_model = ref_model
        self.coef = coef

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        out = label_log_probs(model, inputs)
        ref = reference_log_probs(self.ref_model, inputs, out.log_probs.device)
        nll = token_mean(-out.log_probs, out.label_mask, num_items_in_batch)
        kl = k3_kl(out.log_probs, ref, out.label_mask, num_items_in_batch)
        loss = nll + self.coef * kl
        logged = k3_kl(out.log_probs.detach(), ref, out.label_mask)  # this micro-batch's own token mean
        self._metrics["train" if model.training else "eval"]["kl"].append(logged.item())
        return (loss, out) if return_outputs else loss


class KLMethod(SFTMethod):
    name = "kl"
    config_class = KLConfig
    trainer_class = KLTrainer

    def trainer_kwargs(self, ctx: TrainContext, config: KLConfig) -> dict:
        # The reference is copied here, before SFTTrainer patches or moves the model.
        return {"ref_model": frozen_reference(ctx.model), "coef": config.coef}
