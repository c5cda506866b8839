"""The budget meter: the harness, not the method, counts what training consumed and stops it at the cap.

The arithmetic (caps, FLOPs, reports) lives in `harness.budget.ledger`; every hook into TRL's
trainers lives in `harness.budget.trl_adapters`. This module holds the meter's own state and the
two pieces that watch torch and transformers directly:

- Batches. `wrap_collator` sits between the dataset and the trainer. For each collated micro-batch it
  counts the supervised tokens (labels != -100 after the causal shift, or a completion mask) and the
  processed tokens (the attention mask's non-padding tokens), and it *clips* supervision once the
  gradient-token cap would be passed: labels beyond the cap become -100. A method therefore cannot
  receive a gradient from more tokens than the cap allows, whatever its loss does. Counts wait in a
  FIFO until the trainer has consumed the micro-batch (`consume_micro_batch`).
- Forward passes (`guard`). While a method trains, global module hooks see every top-level
  `PreTrainedModel` forward. Each model is registered under a role: the trainer's model is "policy",
  a trainer's other models (`trainer.ref_model` and any other model attribute) are found when the meter
  is attached, `register_model` adds any other. The policy's training forward (gradient enabled) is
  already metered through its batches as 6 x parameters x gradient tokens; every other forward (a
  frozen reference, FLOW's scoring pass, a no-gradient pass of the policy) is charged 2 x parameters
  x non-padding tokens to its role. A forward inside `generate` is generation and charged as generated
  tokens instead. An unregistered model's forward raises `UnmeteredForward`; an unmetered `generate`
  raises `UnmeteredGeneration`.
- Caps. The FLOPs cap limits training + forward + generation FLOPs. When the trainer's extra models
  forward every micro-batch (kl, iw-sft, dpo), the collator reserves their FLOPs for the batch
  (2 x their parameters x the batch's processed tokens) before it decides how much supervision fits;
  a batch whose reference forwards no longer fit is skipped (no forward at all) and training stops.

Generation (rollouts, self/teacher data) is metered too: rollouts (completions sampled), generated
tokens (end token included) and generation FLOPs (2 x parameters of the sampling model x generated
tokens). Methods sample only through `harness.sampler.MeteredSampler`, which charges the meter and
refuses past a cap; GRPO/RLOO generate inside TRL and are metered by `trl_adapters`.

Tokens of a forward are counted from its attention mask (non-padding tokens), else from the shape of
its input ids: the same rule as processed tokens, so a reference forward over a training batch costs
exactly 2 x its parameters x that batch's processed tokens, and padding (a batching artefact that
differs between trainers) makes no method pay more.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from transformers import PreTrainedModel, TrainerCallback

from harness.budget.ledger import (
    Ledger,
    TrainingDiverged,
    UnmeteredForward,
    UnmeteredGeneration,
    budget_report,
    cap_reached,
    generation_room,
    over_caps,
    token_cap,
    token_cap_name,
)
from harness.schemas import BudgetConfig

SKIP_KEY = "harness_skip_micro_batch"
"""Set on a collated batch that no longer fits the budget: the trainer adapter runs no forward for it."""

POLICY = "policy"

_active: list[BudgetMeter] = []  # the meters whose guard is open (innermost last)


@dataclass
class _Queued:
    supervised: int
    processed: int
    skipped: bool = False
    micro_batches: int = 1  # one per process that collated its share of the micro-batch


class BudgetMeter:
    def __init__(self, caps: BudgetConfig, parameters: int) -> None:
        self.caps = caps
        self.ledger = Ledger(parameters=parameters)
        self.issued_tokens = 0  # supervised tokens handed out by the collator (consumed or queued)
        self._queue: deque[_Queued] = deque()
        self.stopped_by: str | None = None
        self.log_history: list[dict[str, Any]] = []  # every trainer's logs, in order, for train_log.json
        self.rollout_log = None  # harness.rollouts.RolloutLog: per-prompt rollout tallies (set by the runner)
        self.step_listeners: list[Callable[[Any, int], None]] = []  # (model, optimizer step) after each step
        self._sampling_open = 0  # > 0 while the metered sampler or a metered RL trainer may generate
        self._generating = 0  # > 0 while a model's generate runs (its forwards are generation)
        self._models: dict[int, tuple[str, int, torch.nn.Module]] = {}  # id -> (role, parameters, model)
        self._role_override: list[str] = []
        self._forward_stack: list[int] = []  # ids of the registered models whose forward is running
        self.batch_forward_rate = 0.0
        """FLOPs per processed token the current trainer's extra models spend on each micro-batch (2 x their
        parameters); the collator reserves them before deciding how much supervision fits."""
        self.exhausted: str | None = None  # a cap that left no room for the next micro-batch
        # Several processes (accelerate launch, torchrun): counts are summed across them (`across_processes`).
        self.rank = 0
        self.gather: Callable[[list[int]], list[list[int]]] | None = None
        """Per-process values of a list of counts, in rank order (every process calls it at the same point)."""
        self.gather_objects: Callable[[list], list] | None = None
        self._in_training = False  # inside a trainer's train(): forwards are each process's share, summed per step
        self._pending_forwards: list[tuple[str, int, int]] = []

    # ------------------------------------------------------------------------------------ batches

    @property
    def token_cap(self) -> int | None:
        """The gradient-token cap implied by the gradient-token and FLOPs caps, whichever is tighter."""
        return token_cap(self.caps, self.ledger)

    def wrap_collator(self, collate: Callable[[list], dict]) -> Callable[[list], dict]:
        def metered_collate(examples: list) -> dict:
            batch = collate(examples)
            self._meter_batch(batch)
            return batch

        return metered_collate

    def _room(self, processed: int) -> int | None:
        """Supervised tokens this batch may still hand out (None: uncapped), after reserving the extra
        models' forwards over the queued batches and this one; negative when not even those fit."""
        reserved = self.batch_forward_rate * (sum(q.processed for q in self._queue) + processed)
        cap = token_cap(self.caps, self.ledger, reserved)
        return None if cap is None else cap - self.issued_tokens

    def across_processes(self, accelerator) -> None:
        """Sum every count across the processes of one run through the trainer's accelerator (torch.distributed:
        all-gather), so every process holds the same global ledger and stops at the same step."""
        from accelerate.utils import gather_object

        if accelerator.num_processes <= 1:
            return
        self.rank = accelerator.process_index

        def gather(values: list[int]) -> list[list[int]]:
            local = torch.tensor([values], dtype=torch.int64, device=accelerator.device)
            return accelerator.gather(local).tolist()

        self.gather, self.gather_objects = gather, gather_object

    def _meter_batch(self, batch: dict) -> None:
        if "labels" not in batch and "completion_mask" in batch:  # DPO batches, GRPO/RLOO loss inputs
            targets, first = batch["completion_mask"], 0
            supervised = targets != 0
        else:
            targets, first = batch["labels"], 1  # the first position is never predicted
            supervised = targets[:, 1:] != -100
        processed, before, world = self._processed_tokens(batch, supervised), 0, 1
        if self.gather is not None:  # this micro-batch is every process's share together, in rank order
            shares = self.gather([int(supervised.sum()), processed])
            before, processed, world = sum(r[0] for r in shares[: self.rank]), sum(r[1] for r in shares), len(shares)
        room = self._room(processed)
        if room is not None and (room < 0 or (self.batch_forward_rate and room <= 0)):
            # Not one supervised token fits (after this batch's extra forwards): run nothing, stop at the step's end.
            # (Without extra forwards a batch at exactly no room still runs, masked, as it always has.)
            # The room is the global one, so every process decides alike.
            targets[:, first:][supervised] = -100 if first else 0
            batch[SKIP_KEY] = True
            self.exhausted = self.exhausted or token_cap_name(self.caps, self.issued_tokens + room)
            self._queue.append(_Queued(0, 0, skipped=True))
            return
        if room is not None:
            room = max(max(room, 0) - before, 0)  # the processes before this one take theirs first
        if room is not None and int(supervised.sum()) > room:
            # keep the first `room` supervised tokens (row-major), mask the rest
            flat = supervised.flatten()
            keep = torch.cumsum(flat.long(), 0) <= room
            targets[:, first:][(flat & ~keep).view_as(supervised)] = -100 if first else 0
            supervised = targets[:, first:] != (-100 if first else 0)
        n_sup, processed = int(supervised.sum()), self._processed_tokens(batch, supervised)
        if self.gather is not None:
            shares = self.gather([n_sup, processed])
            n_sup, processed = sum(r[0] for r in shares), sum(r[1] for r in shares)
        self.issued_tokens += n_sup
        self._queue.append(_Queued(n_sup, processed, micro_batches=world))

    @staticmethod
    def _processed_tokens(batch: dict, supervised: torch.Tensor) -> int:
        mask = batch.get("attention_mask")
        if mask is not None:
            return int(mask.sum())
        if "completion_mask" in batch and "labels" not in batch:
            return int(supervised.sum()) + (int(batch["prompt_mask"].sum()) if "prompt_mask" in batch else 0)
        return int(batch["labels"].numel())

    def consume_micro_batch(self) -> None:
        if not self._queue:
            return
        q = self._queue.popleft()
        if q.skipped:
            return
        self.ledger.gradient_tokens += q.supervised
        self.ledger.processed_tokens += q.processed
        self.ledger.micro_batches += q.micro_batches

    # ------------------------------------------------------------------------------------ generation

    def _generation_room(self, max_tokens_each: int, parameters: int | None) -> dict[str, int]:
        return generation_room(self.caps, self.ledger, max_tokens_each, parameters)

    def affordable_rollouts(self, max_tokens_each: int, parameters: int | None = None) -> int | None:
        """Rollouts that still fit under every generation cap, each counted at its worst case
        (`max_tokens_each` tokens from a model of `parameters`); None when generation is uncapped."""
        rooms = self._generation_room(max_tokens_each, parameters)
        return max(min(rooms.values()), 0) if rooms else None

    def binding_generation_cap(self, max_tokens_each: int, parameters: int | None = None) -> str:
        """The name of the generation cap that leaves the least room (for stop reasons and errors)."""
        rooms = self._generation_room(max_tokens_each, parameters)
        return min(rooms, key=rooms.get) if rooms else "none"

    def charge_generation(self, rollouts: int, tokens: int, parameters: int | None = None, *,
                          shared: bool = False) -> None:
        """`shared`: each process generated its own share (an RL trainer's batch), so the shares are summed; the
        harness's sampler outside a trainer runs the same on every process and is charged once."""
        if shared and self.gather is not None:
            shares = self.gather([rollouts, tokens])
            rollouts, tokens = sum(r[0] for r in shares), sum(r[1] for r in shares)
        self.ledger.charge_generation(rollouts, tokens, parameters)

    def sync_forwards(self) -> None:
        """Several processes: charge every process's forwards since the last call (each ran its own share)."""
        if self.gather_objects is None:
            return
        pending, self._pending_forwards = self._pending_forwards, []
        for role, tokens, parameters in self.gather_objects(pending):  # every process's list, concatenated
            self.ledger.charge_forward(role, tokens, parameters)

    @contextmanager
    def sampling_allowed(self) -> Iterator[None]:
        """Open the guard for the harness's own (metered, or deliberately unmetered: evaluation) generation."""
        self._sampling_open += 1
        try:
            yield
        finally:
            self._sampling_open -= 1

    # ------------------------------------------------------------------------------------ forwards

    def register_model(self, model: torch.nn.Module, role: str) -> None:
        """Meter `model`'s forwards under `role` (every PreTrainedModel inside it, so PEFT wrappers count too).
        The policy keeps its role; its no-gradient forwards are charged at the ledger's parameter count."""
        parameters = self.ledger.parameters if role == POLICY else sum(p.numel() for p in model.parameters())
        for module in model.modules():
            if isinstance(module, PreTrainedModel) and self._models.get(id(module), ("",))[0] != POLICY:
                self._models[id(module)] = (role, parameters, module)

    def role_of(self, model: torch.nn.Module) -> str | None:
        entry = self._models.get(id(model))
        return entry[0] if entry else None

    @contextmanager
    def forward_role(self, role: str) -> Iterator[None]:
        """Charge every forward in this block to `role` (e.g. "scoring" for a pass over the data before training)."""
        self._role_override.append(role)
        try:
            yield
        finally:
            self._role_override.pop()

    def _before_forward(self, module: torch.nn.Module, args: tuple) -> None:
        if self._generating or not isinstance(module, PreTrainedModel):
            return
        if self._forward_stack:  # a model inside a running forward (LlamaModel inside LlamaForCausalLM)
            self._forward_stack.append(id(module))
            return
        if id(module) not in self._models:
            raise UnmeteredForward(
                f"a {type(module).__name__} that the budget meter does not know ran a forward pass during training; "
                "keep extra models on the trainer (trainer.ref_model or another attribute), or register them with "
                "harness.budget.register_model(model, role), so that their compute is counted"
            )
        self._forward_stack.append(id(module))

    def _after_forward(self, module: torch.nn.Module, args: tuple, kwargs: dict, output: Any = None) -> None:
        if not self._forward_stack or self._forward_stack[-1] != id(module):
            return
        self._forward_stack.pop()
        if self._forward_stack:
            return
        role, parameters, _ = self._models[id(module)]
        role = self._role_override[-1] if self._role_override else role
        if role == POLICY and torch.is_grad_enabled():
            return  # the training forward: metered through its batch (6 x parameters x gradient tokens)
        if self._in_training and self.gather_objects is not None:  # this process's share: summed at the step's end
            self._pending_forwards.append((role, forward_tokens(args, kwargs), parameters))
            return
        self.ledger.charge_forward(role, forward_tokens(args, kwargs), parameters)

    @contextmanager
    def guard(self, policy: torch.nn.Module | None = None) -> Iterator[None]:
        """While a method trains: meter every model's forward (registering `policy` first) and make every
        model's `generate` raise unless the harness opened sampling (the metered sampler, a metered RL
        trainer, the unmetered training-curve evaluation)."""
        from transformers.generation.utils import GenerationMixin

        if policy is not None:
            self.register_model(policy, POLICY)
        original = GenerationMixin.generate
        meter = self

        @functools.wraps(original)
        def guarded_generate(model, *args, **kwargs):
            if meter._sampling_open <= 0:
                raise UnmeteredGeneration(
                    "a method sampled with model.generate directly; sample through ctx.sampler (the harness's "
                    "metered sampler) so that rollouts, generated tokens and generation FLOPs are counted"
                )
            meter._generating += 1
            try:
                return original(model, *args, **kwargs)
            finally:
                meter._generating -= 1

        GenerationMixin.generate = guarded_generate
        pre = register_module_forward_pre_hook(self._before_forward)
        post = register_module_forward_hook(self._after_forward, with_kwargs=True, always_call=True)
        _active.append(self)
        try:
            yield
        finally:
            _active.remove(self)
            pre.remove()
            post.remove()
            self._forward_stack.clear()
            GenerationMixin.generate = original

    # ------------------------------------------------------------------------------------- ledger

    def cap_reached(self) -> str | None:
        return self.exhausted or cap_reached(self.caps, self.ledger)

    def within_budget(self) -> bool:
        return not over_caps(self.caps, self.ledger)

    def report(self) -> dict[str, Any]:
        return budget_report(self.caps, self.ledger, self.stopped_by)

    def callback(self) -> MeterCallback:
        return MeterCallback(self)


def forward_tokens(args: tuple, kwargs: dict) -> int:
    """Non-padding tokens of a forward: its 2-D attention mask's sum, else the size of its input ids
    (or input embeddings' batch x length)."""
    mask = kwargs.get("attention_mask")
    if mask is None and len(args) > 1 and torch.is_tensor(args[1]):
        mask = args[1]  # forward(input_ids, attention_mask, ...)
    if torch.is_tensor(mask) and mask.dim() == 2:
        return int(mask.sum())
    ids = kwargs.get("input_ids", args[0] if args and torch.is_tensor(args[0]) else None)
    if torch.is_tensor(ids):
        return int(ids.numel())
    embeds = kwargs.get("inputs_embeds")
    return int(embeds.shape[0] * embeds.shape[1]) if torch.is_tensor(embeds) else 0


def active_meter() -> BudgetMeter | None:
    """The meter whose guard is open (a method is training), or None."""
    return _active[-1] if _active else None


def register_model(model: torch.nn.Module, role: str) -> None:
    """Meter a model a method creates during training under `role` ("reference", "teacher", ...).

    Models kept on the trainer (`trainer.ref_model` or any other attribute) are found automatically;
    call this for a model held anywhere else. Outside training (no meter active) it does nothing."""
    meter = active_meter()
    if meter is not None:
        meter.register_model(model, role)


def metered_as(role: str) -> Callable:
    """Decorator: every forward inside the function is charged to `role` (FLOW's pre-pass: "scoring")."""

    def wrap(func: Callable) -> Callable:
        @functools.wraps(func)
        def run(*args, **kwargs):
            meter = active_meter()
            if meter is None:
                return func(*args, **kwargs)
            with meter.forward_role(role):
                return func(*args, **kwargs)

        return run

    return wrap


class MeterCallback(TrainerCallback):
    def __init__(self, meter: BudgetMeter) -> None:
        self.meter = meter

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if model is not None:
            n = sum(p.numel() for p in model.parameters() if p.requires_grad)
            self.meter.ledger.trainable_parameters = max(n, self.meter.ledger.trainable_parameters or 0)
        self.meter._in_training = True
        return control

    def on_train_end(self, args, state, control, **kwargs):
        self.meter.sync_forwards()
        self.meter._in_training = False
        return control

    def on_substep_end(self, args, state, control, **kwargs):
        self.meter.consume_micro_batch()
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.meter.log_history.append({"step": state.global_step, **(logs or {})})
        return control

    def on_step_end(self, args, state, control, **kwargs):
        self.meter.consume_micro_batch()
        self.meter.ledger.optimizer_steps += 1
        self.meter.sync_forwards()  # several processes: their forwards of this step, before the caps are read
        reason = self.meter.cap_reached()
        if reason:
            self.meter.stopped_by = reason
            control.should_training_stop = True
        for listen in self.meter.step_listeners:  # e.g. the training curve's periodic evaluation
            listen(kwargs.get("model"), self.meter.ledger.optimizer_steps)
        return control


class LedgerLogCallback(TrainerCallback):
    """Adds the ledger to every log of the trainer (`budget/...` keys), so TRL's reporters (TensorBoard, trackio,
    wandb), its progress display and train_log.json show it next to the loss. Put first among the callbacks: the
    reporters read the same `logs` dict after it."""

    def __init__(self, meter: BudgetMeter) -> None:
        self.meter = meter

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is not None:
            logs.update(ledger_log_values(self.meter))
        return control


def ledger_log_values(meter: BudgetMeter) -> dict[str, float]:
    """The ledger's headline quantities and the share used of each set cap, as flat `budget/` log values."""
    ledger = meter.ledger
    values = {
        "budget/gradient_tokens": float(ledger.gradient_tokens),
        "budget/rollouts": float(ledger.rollouts),
        "budget/generated_tokens": float(ledger.generated_tokens),
        "budget/total_flops": float(ledger.total_flops),
    }
    used = {"gradient_tokens": ledger.gradient_tokens, "rollouts": ledger.rollouts, "optimizer_steps":
            ledger.optimizer_steps, "generated_tokens": ledger.generated_tokens, "train_flops": ledger.total_flops,
            "generation_flops": ledger.generation_flops}
    for name, cap in meter.caps.model_dump().items():
        if isinstance(cap, (int, float)) and cap and name in used:
            values[f"budget/{name}_share"] = float(used[name] / cap)
    return values


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def check_finite(value: Any, what: str, meter: BudgetMeter) -> None:
    """Raise `TrainingDiverged` when a loss or gradient norm is NaN or infinite."""
    finite = bool(torch.isfinite(value).all()) if torch.is_tensor(value) else value is None or math.isfinite(value)
    if not finite:
        shown = value.item() if torch.is_tensor(value) and value.numel() == 1 else value
        raise TrainingDiverged(
            f"training diverged: non-finite {what} ({shown}) after {meter.ledger.optimizer_steps} optimizer steps; "
            "the run is recorded as failed (a lower learning_rate or learning_rate_scale usually fixes it)"
        )
