"""The budget meter: the harness, not the method, counts what training consumed and stops it at the cap.

How it meters (independent of the method's own loss or logging):
- `wrap_collator` sits between the dataset and the trainer. For each collated micro-batch it counts
  the supervised tokens (labels != -100 after the causal shift) and the processed tokens, and it
  *clips* supervision once the gradient-token cap would be passed: labels beyond the cap become
  -100. A method therefore cannot receive a gradient from more tokens than the cap allows, whatever
  its loss does.
- `MeterCallback` moves a micro-batch's counts into the ledger when the trainer has consumed it
  (each `on_substep_end` / `on_step_end` is one micro-batch; batches are collated ahead of use, so
  counts wait in a FIFO), counts optimizer steps, and stops training when a cap is reached.

FLOPs are estimated as 6 x parameters x gradient tokens (forward + backward of a dense decoder).

Generation (rollouts, self/teacher data) is metered too: rollouts (completions sampled), generated
tokens (end token included) and generation FLOPs (2 x parameters of the sampling model x generated
tokens). Methods sample only through `harness.sampler.MeteredSampler`, which charges the meter and
refuses past a cap; while a method trains, any model's `generate` raises unless the sampler (or a
metered RL trainer) is generating (`BudgetMeter.guard`). GRPO/RLOO generate inside TRL: `attach_meter`
wraps their first reward function (it sees every completion and its token ids) to charge the meter,
meters the completion tokens that reach the loss like labels, and stops training before the next
generation batch could pass a generation cap (each rollout counted at its worst case,
max_completion_length tokens).
"""

from __future__ import annotations

import functools
import inspect
import math
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import torch
from transformers import TrainerCallback

from harness.schemas import BudgetConfig

FLOPS_PER_PARAM_PER_TOKEN = 6
GENERATION_FLOPS_PER_PARAM_PER_TOKEN = 2
GENERATION_CAPS = ("rollouts", "generated_tokens", "generation_flops")


class BudgetExceeded(RuntimeError):
    """Raised when sampling is refused because a generation cap leaves no room (`cap` names it)."""

    def __init__(self, cap: str, message: str) -> None:
        super().__init__(message)
        self.cap = cap


class UnmeteredGeneration(RuntimeError):
    """A method called `model.generate` itself instead of sampling through the harness's metered sampler."""


@dataclass
class Ledger:
    parameters: int
    gradient_tokens: int = 0
    processed_tokens: int = 0
    optimizer_steps: int = 0
    micro_batches: int = 0
    trainable_parameters: int | None = None
    """Parameters the optimizer updates (LoRA: the adapters only), counted when a metered trainer starts;
    the most over a run's trainers. FLOPs still use all `parameters`: the backward pass goes through them all."""
    rollouts: int = 0
    """Completions sampled during training (RL rollouts, self/teacher data)."""
    generated_tokens: int = 0
    """Tokens those completions hold, end tokens included."""
    generation_flops: float = 0.0
    """2 x parameters of the sampling model x its generated tokens, summed over the models that sampled."""

    @property
    def train_flops(self) -> float:
        return float(FLOPS_PER_PARAM_PER_TOKEN * self.parameters * self.gradient_tokens)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "train_flops": self.train_flops}


class BudgetMeter:
    def __init__(self, caps: BudgetConfig, parameters: int) -> None:
        self.caps = caps
        self.ledger = Ledger(parameters=parameters)
        self.issued_tokens = 0  # supervised tokens handed out by the collator (consumed or queued)
        self._queue: deque[tuple[int, int]] = deque()
        self.stopped_by: str | None = None
        self.log_history: list[dict[str, Any]] = []  # every trainer's logs, in order, for train_log.json
        self.rollout_log = None  # harness.rollouts.RolloutLog: per-prompt rollout tallies (set by the runner)
        self.step_listeners: list[Callable[[Any, int], None]] = []  # (model, optimizer step) after each step
        self._sampling_open = 0  # > 0 while the metered sampler or a metered RL trainer generates

    @property
    def token_cap(self) -> int | None:
        """The gradient-token cap implied by the gradient-token and FLOPs caps, whichever is tighter."""
        caps = []
        if self.caps.gradient_tokens is not None:
            caps.append(self.caps.gradient_tokens)
        if self.caps.train_flops is not None:
            caps.append(math.floor(self.caps.train_flops / (FLOPS_PER_PARAM_PER_TOKEN * self.ledger.parameters)))
        return min(caps) if caps else None

    def wrap_collator(self, collate: Callable[[list], dict]) -> Callable[[list], dict]:
        def metered_collate(examples: list) -> dict:
            batch = collate(examples)
            self._meter_batch(batch)
            return batch

        return metered_collate

    def _meter_batch(self, batch: dict) -> None:
        if "labels" not in batch and "completion_mask" in batch:  # DPO batches, GRPO/RLOO loss inputs
            return self._meter_completion_mask(batch)
        labels = batch["labels"]
        supervised = labels[:, 1:] != -100  # the first position is never predicted
        cap = self.token_cap
        if cap is not None:
            room = max(cap - self.issued_tokens, 0)
            flat = supervised.flatten()
            if int(flat.sum()) > room:
                # keep the first `room` supervised tokens (row-major), mask the rest
                keep = torch.cumsum(flat.long(), 0) <= room
                clipped = (flat & ~keep).view_as(supervised)
                labels[:, 1:][clipped] = -100
                supervised = labels[:, 1:] != -100
        n_sup = int(supervised.sum())
        mask = batch.get("attention_mask")
        n_proc = int(mask.sum()) if mask is not None else int(labels.numel())
        self.issued_tokens += n_sup
        self._queue.append((n_sup, n_proc))

    def _meter_completion_mask(self, batch: dict) -> None:
        """Batches whose targets are marked by a completion mask: every masked token gets a gradient."""
        mask = batch["completion_mask"]
        cap = self.token_cap
        if cap is not None:
            room = max(cap - self.issued_tokens, 0)
            flat = mask.flatten() != 0
            if int(flat.sum()) > room:
                keep = torch.cumsum(flat.long(), 0) <= room
                mask[(flat & ~keep).view_as(mask)] = 0
        n_sup = int((mask != 0).sum())
        if "attention_mask" in batch:
            n_proc = int(batch["attention_mask"].sum())
        else:
            n_proc = n_sup + (int(batch["prompt_mask"].sum()) if "prompt_mask" in batch else 0)
        self.issued_tokens += n_sup
        self._queue.append((n_sup, n_proc))

    # ------------------------------------------------------------------------------------ generation

    def _generation_room(self, max_tokens_each: int, parameters: int | None) -> dict[str, int]:
        """Rollouts that still fit under each set generation cap, every rollout at its worst case."""
        c, used = self.caps, self.ledger
        tokens = max(max_tokens_each, 1)
        rooms = {}
        if c.rollouts is not None:
            rooms["rollouts"] = c.rollouts - used.rollouts
        if c.generated_tokens is not None:
            rooms["generated_tokens"] = (c.generated_tokens - used.generated_tokens) // tokens
        if c.generation_flops is not None:
            per = GENERATION_FLOPS_PER_PARAM_PER_TOKEN * (parameters or used.parameters) * tokens
            rooms["generation_flops"] = math.floor((c.generation_flops - used.generation_flops) / per)
        return rooms

    def affordable_rollouts(self, max_tokens_each: int, parameters: int | None = None) -> int | None:
        """Rollouts that still fit under every generation cap, each counted at its worst case
        (`max_tokens_each` tokens from a model of `parameters`); None when generation is uncapped."""
        rooms = self._generation_room(max_tokens_each, parameters)
        return max(min(rooms.values()), 0) if rooms else None

    def binding_generation_cap(self, max_tokens_each: int, parameters: int | None = None) -> str:
        """The name of the generation cap that leaves the least room (for stop reasons and errors)."""
        rooms = self._generation_room(max_tokens_each, parameters)
        return min(rooms, key=rooms.get) if rooms else "none"

    def charge_generation(self, rollouts: int, tokens: int, parameters: int | None = None) -> None:
        self.ledger.rollouts += rollouts
        self.ledger.generated_tokens += tokens
        self.ledger.generation_flops += float(GENERATION_FLOPS_PER_PARAM_PER_TOKEN * (parameters or self.ledger.parameters) * tokens)

    @contextmanager
    def sampling_allowed(self) -> Iterator[None]:
        """Open the guard for the harness's own (metered, or deliberately unmetered: evaluation) generation."""
        self._sampling_open += 1
        try:
            yield
        finally:
            self._sampling_open -= 1

    @contextmanager
    def guard(self) -> Iterator[None]:
        """While a method trains: every model's `generate` raises unless the harness opened sampling
        (the metered sampler, a metered RL trainer, the unmetered training-curve evaluation)."""
        from transformers.generation.utils import GenerationMixin

        original = GenerationMixin.generate
        meter = self

        @functools.wraps(original)
        def guarded_generate(model, *args, **kwargs):
            if meter._sampling_open <= 0:
                raise UnmeteredGeneration(
                    "a method sampled with model.generate directly; sample through ctx.sampler (the harness's "
                    "metered sampler) so that rollouts, generated tokens and generation FLOPs are counted"
                )
            return original(model, *args, **kwargs)

        GenerationMixin.generate = guarded_generate
        try:
            yield
        finally:
            GenerationMixin.generate = original

    # ------------------------------------------------------------------------------------- ledger

    def consume_micro_batch(self) -> None:
        if not self._queue:
            return
        n_sup, n_proc = self._queue.popleft()
        self.ledger.gradient_tokens += n_sup
        self.ledger.processed_tokens += n_proc
        self.ledger.micro_batches += 1

    def cap_reached(self) -> str | None:
        cap = self.token_cap
        if cap is not None and self.ledger.gradient_tokens >= cap:
            return "train_flops" if cap != self.caps.gradient_tokens else "gradient_tokens"
        if self.caps.optimizer_steps is not None and self.ledger.optimizer_steps >= self.caps.optimizer_steps:
            return "optimizer_steps"
        return None

    def within_budget(self) -> bool:
        c = self.caps
        return not (
            (c.gradient_tokens is not None and self.ledger.gradient_tokens > c.gradient_tokens)
            or (c.optimizer_steps is not None and self.ledger.optimizer_steps > c.optimizer_steps)
            or (c.train_flops is not None and self.ledger.train_flops > c.train_flops)
            or any(getattr(c, k) is not None and getattr(self.ledger, k) > getattr(c, k) for k in GENERATION_CAPS)
        )

    def report(self) -> dict[str, Any]:
        return {
            "caps": self.caps.model_dump(),
            "used": self.ledger.as_dict(),
            "within_budget": self.within_budget(),
            "stopped_by_cap": self.stopped_by,
        }

    def callback(self) -> MeterCallback:
        return MeterCallback(self)


class MeterCallback(TrainerCallback):
    def __init__(self, meter: BudgetMeter) -> None:
        self.meter = meter

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if model is not None:
            n = sum(p.numel() for p in model.parameters() if p.requires_grad)
            self.meter.ledger.trainable_parameters = max(n, self.meter.ledger.trainable_parameters or 0)
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
        reason = self.meter.cap_reached()
        if reason:
            self.meter.stopped_by = reason
            control.should_training_stop = True
        for listen in self.meter.step_listeners:  # e.g. the training curve's periodic evaluation
            listen(kwargs.get("model"), self.meter.ledger.optimizer_steps)
        return control


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def attach_meter(trainer, meter: BudgetMeter) -> None:
    """Meter a built trainer: wrap its collator and add the callback. Called by the harness, not the method.

    Trainers that generate their own rollouts (GRPO, RLOO: they have `reward_funcs`) are metered
    through their reward function and loss inputs instead (see `_meter_rollout_trainer`)."""
    if hasattr(trainer, "reward_funcs"):
        _meter_rollout_trainer(trainer, meter)
    else:
        trainer.data_collator = meter.wrap_collator(trainer.data_collator)
    trainer.add_callback(meter.callback())


# ------------------------------------------------------------------------ trainers that generate (RL)


def _meter_rollout_trainer(trainer, meter: BudgetMeter) -> None:
    """GRPO/RLOO: charge every generation batch, meter the loss's completion tokens, stop before a cap.

    - Rollouts: TRL calls each reward function once per generation batch with every completion and
      its token ids (end token included); the first callable one is wrapped to charge the meter and
      tally rollouts per prompt. Reused batches (num_iterations > 1) are charged once.
    - Gradient tokens: `compute_loss` is wrapped so the completion mask of each micro-batch is metered
      and clipped at the gradient-token cap, as labels are for SFT.
    - Caps: `RolloutCapCallback` stops training after an optimizer step when the next step would
      generate a batch that might not fit (generation_batch_size rollouts x max_completion_length tokens).
    """
    index = next((i for i, f in enumerate(trainer.reward_funcs) if not isinstance(f, torch.nn.Module)), None)
    if index is None:
        raise TypeError("the harness meters rollouts through a reward function; give the trainer at least one callable")
    trainer.reward_funcs[index] = _charging_reward(trainer.reward_funcs[index], meter)

    compute_loss = trainer.compute_loss

    @functools.wraps(compute_loss)
    def metered_compute_loss(model, inputs, *args, **kwargs):
        if model.training:
            meter._meter_batch(inputs)
        return compute_loss(model, inputs, *args, **kwargs)

    trainer.compute_loss = metered_compute_loss

    train = trainer.train

    @functools.wraps(train)
    def train_with_sampling(*args, **kwargs):
        with meter.sampling_allowed():  # the trainer's own generate calls are metered by the wrapper above
            return train(*args, **kwargs)

    trainer.train = train_with_sampling
    trainer.add_callback(RolloutCapCallback(meter, trainer))


def _charging_reward(func: Callable, meter: BudgetMeter) -> Callable:
    def charge(prompts, completions, completion_ids) -> None:
        meter.charge_generation(len(completion_ids), sum(len(ids) for ids in completion_ids))
        if meter.rollout_log is not None:
            meter.rollout_log.record_many(prompts, completions)

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def charged_async(*, prompts, completions, completion_ids, **kwargs):
            charge(prompts, completions, completion_ids)
            return await func(prompts=prompts, completions=completions, completion_ids=completion_ids, **kwargs)

        return charged_async

    @functools.wraps(func)
    def charged(*, prompts, completions, completion_ids, **kwargs):
        charge(prompts, completions, completion_ids)
        return func(prompts=prompts, completions=completions, completion_ids=completion_ids, **kwargs)

    return charged


class RolloutCapCallback(TrainerCallback):
    """Stops a generating trainer before a generation batch that might pass a generation cap.

    TRL generates `generation_batch_size` completions at micro-steps k with
    k % (steps_per_generation x num_iterations) == 0; the callback checks, before the first step and
    after each optimizer step, whether the coming step generates and whether that batch fits with every
    completion at max_completion_length tokens.
    """

    def __init__(self, meter: BudgetMeter, trainer) -> None:
        self.meter = meter
        args = trainer.args
        self.per_generation = args.generation_batch_size
        self.every = args.steps_per_generation * args.num_iterations  # micro-steps between generations
        self.accumulation = args.gradient_accumulation_steps
        self.max_tokens = args.max_completion_length

    def generations_in_step(self, step: int) -> int:
        micro = range(step * self.accumulation, (step + 1) * self.accumulation)
        return sum(k % self.every == 0 for k in micro)

    def _fits(self, step: int) -> bool:
        need = self.generations_in_step(step) * self.per_generation
        room = self.meter.affordable_rollouts(self.max_tokens)
        return need == 0 or room is None or need <= room

    def on_train_begin(self, args, state, control, **kwargs):
        if not self._fits(state.global_step):
            cap = self.meter.binding_generation_cap(self.max_tokens)
            raise BudgetExceeded(
                cap, f"the {cap} cap leaves no room for one generation batch of {self.per_generation} rollouts of up "
                f"to {self.max_tokens} tokens; lower the generation batch or raise the track's cap",
            )
        return control

    def on_step_end(self, args, state, control, **kwargs):
        if not self._fits(state.global_step):
            self.meter.stopped_by = self.meter.stopped_by or self.meter.binding_generation_cap(self.max_tokens)
            control.should_training_stop = True
        return control
