"""The one trainer behind every token loss: an SFTTrainer that computes per-token log-probs once and asks the
method's `loss` function for the loss.

What it keeps from TRL's SFTTrainer.compute_loss: one forward through the fused LM head (no full logits),
the entropy / mean_token_accuracy / num_tokens metrics, the MoE router loss, and the scaling for tokens
counted across devices. What it adds: a frozen reference model when the method asks for one, per-sequence
weights computed before training, and the loss function's own logs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import torch
from transformers import PreTrainedModel
from trl import SFTTrainer
from trl.trainer.utils import add_fused_lm_head

from harness.budget import metered_as
from harness.methods.losses import token_mean

if TYPE_CHECKING:
    from harness.methods.configs import MethodConfig
    from harness.methods.token_loss import TokenLoss

SEQUENCE_WEIGHT = "sequence_weight"
"""The dataset column (and batch key) that carries a method's per-sequence weights."""


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


@dataclass
class TokenBatch:
    """One micro-batch as a token loss sees it. The trainer builds it; a test can build one from tensors."""

    log_probs: torch.Tensor
    """(B, T-1) log p_theta of each next-token label, with gradient; 0 where the label is ignored."""
    label_mask: torch.Tensor
    """(B, T-1) True on the supervised (completion) tokens."""
    num_items: torch.Tensor | int | None = None
    """Supervised tokens of the whole optimizer step (gradient accumulation); None: count this micro-batch's."""
    sequence_weights: torch.Tensor | None = None
    """(B,) the method's per-sequence weights (TokenLoss.sequence_weights), or None."""
    count_scale: int = 1
    """Devices whose tokens `num_items` counts (DDP averages the gradients, so token means are scaled back up)."""
    micro_batches: int = 1
    """Micro-batches that share one per-step term (>1 when the loss, not the trainer, does the 1/accumulation)."""
    trainer: TokenLossTrainer | None = field(default=None, repr=False)
    inputs: dict | None = field(default=None, repr=False)

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """Mean of `values` (B, T-1) over the supervised tokens, normalised so the micro-batches of a step add up to
        the step's mean (as TRL's SFT loss is)."""
        loss = token_mean(values, self.label_mask, self.num_items)
        return loss if self.count_scale == 1 else loss * self.count_scale

    def once_per_step(self, penalty: torch.Tensor) -> torch.Tensor:
        """A term that is not a token mean (a weight penalty), split over the micro-batches so each optimizer step
        carries it once."""
        return penalty / self.micro_batches

    @cached_property
    def reference_log_probs(self) -> torch.Tensor:
        """log p_ref of each label under the frozen starting model (no gradient); needs `reference = True`."""
        return reference_log_probs(self._trainer().reference(), self.inputs, self.log_probs.device)

    @property
    def model(self) -> PreTrainedModel:
        """The model being trained (its parameters, for penalties on the weights)."""
        return self._trainer().model

    @property
    def reference_weights(self) -> dict[str, torch.Tensor]:
        """The starting model's parameters by name, on the trained model's device; needs `reference = True`."""
        return self._trainer().reference_weights()

    def _trainer(self) -> TokenLossTrainer:
        if self.trainer is None:
            raise ValueError("this TokenBatch was built without a trainer: no model or reference to read")
        return self.trainer


class TokenLossTrainer(SFTTrainer):
    """SFTTrainer whose loss is `method.loss(batch, method_config)`: `method` is a TokenLoss, `method_config` the
    method's parsed config (its hyperparameters, read by the loss as they are)."""

    def __init__(self, model: PreTrainedModel, *args, method: TokenLoss, method_config: MethodConfig, **kwargs):
        # The reference is copied before SFTTrainer patches (fused head) or moves the model.
        # A loss that reads only the starting weights (l2) keeps them as tensors, not as a model: the budget meter
        # reserves a forward pass per batch for every model a trainer holds, and a weights-only copy never forwards.
        self.ref_model = frozen_reference(model) if method.reference is True else None
        self.reference_params = ({name: p.detach().clone() for name, p in model.named_parameters()}
                                 if method.reference == "weights" else None)
        super().__init__(model, *args, **kwargs)
        self.method, self.method_config = method, method_config
        self.sequence_weight_stats: dict[str, Any] = {}
        weighted = method.sequence_weights(self, method_config)
        if weighted is not None:
            self._add_sequence_weights(*weighted)

    # ------------------------------------------------------------------------------------------ the loss

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        mode = "train" if self.model.training else "eval"
        weights = inputs.pop(SEQUENCE_WEIGHT, None)
        inputs["use_cache"] = False
        if self.aux_loss_enabled:
            inputs["output_router_logits"] = True
        outputs = model(**inputs, fused_lm_head=True)
        batch = TokenBatch(outputs.log_probs, outputs.label_mask, num_items_in_batch, weights,
                           count_scale=self._token_count_scale(num_items_in_batch),
                           micro_batches=self._micro_batches_per_term(num_items_in_batch), trainer=self, inputs=inputs)
        loss, logs = self.method.loss(batch, self.method_config)
        if self.aux_loss_enabled:
            loss = loss + batch.once_per_step(self.router_aux_loss_coef * outputs.aux_loss)
        self._log_token_metrics(inputs, outputs, mode)
        for key, value in logs.items():
            self._metrics[mode][key].append(float(value))
        return (loss, outputs) if return_outputs else loss

    def _token_count_scale(self, num_items_in_batch) -> int:
        """TRL's factor for a token count gathered across devices (DDP then averages the gradients); 1 on one device."""
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            return self.accelerator.num_processes // self.get_tp_size()
        return 1

    def _micro_batches_per_term(self, num_items_in_batch) -> int:
        """Trainer leaves the 1/accumulation scaling to a loss normalised by num_items_in_batch: then a per-step term
        must be split over the micro-batches by the loss itself."""
        if self.model_accepts_loss_kwargs and num_items_in_batch is not None:
            return self.current_gradient_accumulation_steps
        return 1

    def _log_token_metrics(self, inputs: dict, outputs, mode: str) -> None:
        """The metrics SFTTrainer.compute_loss logs (TRL 1.16): entropy, mean_token_accuracy and num_tokens."""
        gather = self.accelerator.gather_for_metrics
        num_valid = gather(outputs.label_mask.sum()).sum()
        entropy_sum = gather(outputs.entropy.detach().sum()).sum()
        num_correct = gather(outputs.is_top1.sum()).sum()
        self._metrics[mode]["entropy"].append((entropy_sum / num_valid).item() if num_valid > 0 else 0.0)
        self._metrics[mode]["mean_token_accuracy"].append((num_correct / num_valid).item() if num_valid > 0 else 0.0)
        if mode == "train":
            if "attention_mask" in inputs:
                tokens = gather(inputs["attention_mask"].sum()).sum().item()
            else:  # padding-free batches carry position_ids instead
                positions = inputs["position_ids"]
                tokens = gather(torch.tensor(positions.size(1), device=positions.device)).sum().item()
            self._total_train_tokens += tokens // self._tp_size
        self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
        if self.aux_loss_enabled:
            self._metrics[mode]["aux_loss"].append(gather(outputs.aux_loss).mean().item())

    # ------------------------------------------------------------------------- what a loss may ask for

    def reference(self) -> PreTrainedModel:
        if self.ref_model is None:
            raise ValueError(f"method {self.method.name!r} reads the reference model: set `reference = True` on its "
                             "TokenLoss class")
        return self.ref_model

    def reference_weights(self) -> dict[str, torch.Tensor]:
        device = next(self.model.parameters()).device
        if self.reference_params is not None:
            if next(iter(self.reference_params.values())).device != device:
                self.reference_params = {k: v.to(device) for k, v in self.reference_params.items()}
            return self.reference_params
        if next(self.reference().parameters()).device != device:
            self.ref_model.to(device)
        return dict(self.ref_model.named_parameters())

    @metered_as("scoring")  # the budget meter charges this pass over the data as 2 x parameters x tokens
    @torch.no_grad()
    def base_sequence_losses(self, batch_size: int) -> torch.Tensor:
        """Each training sequence's mean token NLL under the model as it is now (before training: the base), in
        dataset order, with the training collator (same truncation and completion mask)."""
        was_training = self.model.training
        self.model.eval()
        device = next(self.model.parameters()).device
        out = []
        for start in range(0, len(self.train_dataset), batch_size):
            rows = [self.train_dataset[i] for i in range(start, min(start + batch_size, len(self.train_dataset)))]
            batch = {k: v.to(device) for k, v in self.data_collator(rows).items() if torch.is_tensor(v)}
            res = self.model(**batch, use_cache=False, fused_lm_head=True)
            out.append(sequence_losses(res.log_probs, res.label_mask).float().cpu())
        self.model.train(was_training)
        return torch.cat(out)

    # --------------------------------------------------------------------------- per-sequence weights

    def _add_sequence_weights(self, weights: torch.Tensor, stats: dict[str, Any]) -> None:
        """Store the weights as a dataset column that the collator hands to compute_loss, and log `stats` once."""
        self.sequence_weight_stats = dict(stats)
        for key, value in stats.items():
            self._metrics["train"][key].append(float(value))
        self.train_dataset = self.train_dataset.add_column(SEQUENCE_WEIGHT, weights.tolist())
        collate = self.data_collator

        def collate_with_weights(examples: list[dict]) -> dict:
            batch = collate(examples)
            batch[SEQUENCE_WEIGHT] = torch.tensor([e[SEQUENCE_WEIGHT] for e in examples], dtype=torch.float32)
            return batch

        self.data_collator = collate_with_weights

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        if SEQUENCE_WEIGHT not in self._signature_columns:
            self._signature_columns = [*self._signature_columns, SEQUENCE_WEIGHT]


def sequence_losses(log_probs: torch.Tensor, label_mask: torch.Tensor) -> torch.Tensor:
    """Mean NLL over each sequence's supervised tokens, (B,); 0 for a sequence without any."""
    m = label_mask.float()
    return (-log_probs * m).sum(1) / m.sum(1).clamp(min=1)
