"""Every place the budget meter hooks into TRL's (and transformers') trainers, in one module.

What each adapter relies on (pinned for the TRL version in pyproject by tests/unit/test_trl_contract.py,
so a TRL upgrade that moves one of these fails in tests, not silently in the meter):

- `trainer.data_collator` collates every training micro-batch (SFTTrainer, DPOTrainer); SFT batches
  carry `labels` (-100 = no gradient) and `attention_mask`, DPO batches `completion_mask` and
  `attention_mask`. The meter wraps the collator to count and clip them.
- `trainer.compute_loss(model, inputs, return_outputs=False, num_items_in_batch=None)` is called once
  per micro-batch with the collated inputs; wrapped to skip batches the budget no longer allows, to
  meter GRPO/RLOO's loss inputs (`completion_mask`, `prompt_mask`) and to stop on a non-finite loss.
- `trainer._get_grad_norm(model, grad_norm=None)` returns the gradient norm before each optimizer
  step (transformers' Trainer); wrapped to stop on a non-finite norm before the step is applied.
- Callbacks: `on_substep_end` after each accumulated micro-batch, `on_step_end` after each optimizer
  step (its micro-batch consumed too), `on_train_begin` / `on_train_end` around training.
- `trainer.accelerator` (`num_processes`, `process_index`, `device`, `gather`): with several processes
  (accelerate launch, torchrun) the meter sums every count across them through it.
- Extra models live on the trainer: `trainer.ref_model` (DPOTrainer, GRPO/RLOO with beta > 0, the
  harness's kl and iw-sft), reward models in `trainer.reward_funcs`; every model attribute of a
  trainer is registered with the meter under a role ("reference", "reward", or the attribute's name).
- GRPO/RLOO (`trainer.reward_funcs`): each reward function is called once per generation batch as
  `func(prompts=..., completions=..., completion_ids=..., **columns)`; generation happens in
  `generate` (GenerationMixin); `args.generation_batch_size`, `args.steps_per_generation`,
  `args.num_iterations`, `args.gradient_accumulation_steps` and `args.max_completion_length` say when
  and how much it generates.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator

import torch
from transformers import PreTrainedModel, TrainerCallback

from harness.budget.ledger import FORWARD_FLOPS_PER_PARAM_PER_TOKEN, BudgetExceeded
from harness.budget.meter import POLICY, SKIP_KEY, BudgetMeter, LedgerLogCallback, check_finite, count_parameters

ROLE_OF_ATTRIBUTE = {"ref_model": "reference", "reward_funcs": "reward"}
"""Roles of well-known trainer attributes; any other model attribute `x_model` is metered as role `x`."""
POLICY_ATTRIBUTES = ("model", "model_wrapped")


def attach_meter(trainer, meter: BudgetMeter) -> None:
    """Meter a built trainer: register its models, wrap its collator (or its RL inputs), its loss and its
    gradient norm, and add the callbacks. Called by the harness, not the method.

    Trainers that generate their own rollouts (GRPO, RLOO: they have `reward_funcs`) are metered
    through their reward function and loss inputs instead (see `_meter_rollout_trainer`)."""
    meter.register_model(trainer.model, POLICY)
    meter.across_processes(trainer.accelerator)  # several processes: one global ledger, summed every micro-batch
    extra = list(extra_models(trainer))
    for role, model in extra:
        meter.register_model(model, role)
    if hasattr(trainer, "reward_funcs"):
        meter.batch_forward_rate = 0.0  # their reference forwards run at generation time, charged as they happen
        _meter_rollout_trainer(trainer, meter)
    else:
        # kl, iw-sft, dpo: each extra model forwards every micro-batch once; reserve that before clipping.
        meter.batch_forward_rate = float(FORWARD_FLOPS_PER_PARAM_PER_TOKEN * sum(count_parameters(m) for _, m in extra))
        trainer.data_collator = meter.wrap_collator(trainer.data_collator)
        _wrap_compute_loss(trainer, meter, meter_inputs=False)
    _check_gradient_norm(trainer, meter)
    trainer.add_callback(meter.callback())
    trainer.callback_handler.callbacks.insert(0, LedgerLogCallback(meter))  # before the reporters read the logs


def extra_models(trainer) -> Iterator[tuple[str, torch.nn.Module]]:
    """(role, model) for every model a trainer holds besides its policy (reference, reward, teacher...)."""
    policy = {id(m) for m in trainer.model.modules()}
    for name, value in vars(trainer).items():
        if name in POLICY_ATTRIBUTES:
            continue
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if not isinstance(item, torch.nn.Module) or id(item) in policy:
                continue
            if any(isinstance(m, PreTrainedModel) for m in item.modules()):
                yield ROLE_OF_ATTRIBUTE.get(name, name.removesuffix("_model")), item


def _wrap_compute_loss(trainer, meter: BudgetMeter, *, meter_inputs: bool) -> None:
    compute_loss = trainer.compute_loss

    @functools.wraps(compute_loss)
    def metered_compute_loss(model, inputs, *args, **kwargs):
        if meter_inputs and model.training:
            meter._meter_batch(inputs)
        if inputs.pop(SKIP_KEY, False):  # the budget left no room for this micro-batch: no model runs
            loss = torch.zeros((), device=next(model.parameters()).device, requires_grad=True)
            return (loss, None) if kwargs.get("return_outputs", args[0] if args else False) else loss
        out = compute_loss(model, inputs, *args, **kwargs)
        if model.training:
            check_finite(out[0] if isinstance(out, tuple) else out, "loss", meter)
        return out

    trainer.compute_loss = metered_compute_loss


def _check_gradient_norm(trainer, meter: BudgetMeter) -> None:
    get_grad_norm = trainer._get_grad_norm  # transformers' Trainer: the norm before each optimizer step

    @functools.wraps(get_grad_norm)
    def checked_grad_norm(model, *args, **kwargs):
        norm = get_grad_norm(model, *args, **kwargs)
        check_finite(norm, "gradient norm", meter)
        return norm

    trainer._get_grad_norm = checked_grad_norm


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
    _wrap_compute_loss(trainer, meter, meter_inputs=True)

    train = trainer.train

    @functools.wraps(train)
    def train_with_sampling(*args, **kwargs):
        with meter.sampling_allowed():  # the trainer's own generate calls are metered by the reward wrapper
            return train(*args, **kwargs)

    trainer.train = train_with_sampling
    trainer.add_callback(RolloutCapCallback(meter, trainer))


def _charging_reward(func: Callable, meter: BudgetMeter) -> Callable:
    def charge(prompts, completions, completion_ids) -> None:
        # Several processes: each generated its share of the batch; the shares are summed (and logged) on every one.
        meter.charge_generation(len(completion_ids), sum(len(ids) for ids in completion_ids), shared=True)
        if meter.rollout_log is not None:
            if meter.gather_objects is not None:
                prompts, completions = meter.gather_objects(list(prompts)), meter.gather_objects(list(completions))
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
