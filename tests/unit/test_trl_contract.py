"""Contract tests: the TRL and transformers internals that harness/budget/trl_adapters.py relies on.

Each test pins one assumption for the TRL version in pyproject.toml. After a TRL (or transformers)
upgrade, a failure here names the adapter to revisit before the meter silently miscounts.
"""

import inspect
import re
import tomllib
from dataclasses import replace
from types import MappingProxyType

import pytest
import torch
import trl
from datasets import Dataset
from transformers import Trainer, TrainerCallback
from transformers.generation.utils import GenerationMixin
from trl import DPOConfig, DPOTrainer, GRPOConfig, GRPOTrainer, RLOOTrainer, SFTTrainer

from harness.budget import BudgetMeter, attach_meter, count_parameters
from harness.budget.trl_adapters import extra_models
from harness.discovery import REPO_ROOT
from harness.schemas import BudgetConfig
from harness.methods import TrainContext, config_class, get_method
from harness.models import load_saved_model
from harness.track_data import conversation, domain_train_examples, to_dataset


def test_the_installed_trl_is_the_one_pyproject_pins():
    pins = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (pin,) = [p for p in pins if p.startswith("trl")]
    pattern = re.escape(pin.removeprefix("trl==")).replace(r"\*", ".*")
    assert re.fullmatch(pattern, trl.__version__), f"trl {trl.__version__} is installed, pyproject pins {pin}: rerun these tests"


@pytest.mark.parametrize("trainer_class", [Trainer, SFTTrainer, DPOTrainer, GRPOTrainer, RLOOTrainer])
def test_compute_loss_takes_model_inputs_return_outputs_num_items(trainer_class):
    params = list(inspect.signature(trainer_class.compute_loss).parameters)
    assert params[:5] == ["self", "model", "inputs", "return_outputs", "num_items_in_batch"]


def test_the_trainer_reports_the_gradient_norm_through_get_grad_norm():
    assert list(inspect.signature(Trainer._get_grad_norm).parameters)[:3] == ["self", "model", "grad_norm"]
    source = inspect.getsource(Trainer)
    assert source.index("self._get_grad_norm(") < source.index("self.optimizer.step()")  # checked before the step


def test_callback_events_the_meter_counts_micro_batches_with():
    source = inspect.getsource(Trainer)
    for event in ("on_substep_end", "on_step_end", "on_train_begin"):
        assert callable(getattr(TrainerCallback, event)) and f"callback_handler.{event}(" in source


def test_model_generate_is_generation_mixins():
    from transformers import LlamaForCausalLM

    assert LlamaForCausalLM.generate is GenerationMixin.generate  # the guard patches it there


def _context(micro_track, micro_base, tmp_path):
    model, tok = load_saved_model(micro_base[0])
    examples = domain_train_examples(micro_track)
    return TrainContext(
        model=model, tokenizer=tok, train_dataset=to_dataset(examples), output_dir=tmp_path, seed=0,
        track=MappingProxyType(micro_track.model_dump()), max_length=micro_track.training.max_length,
        base_model_dir=micro_base[0], train_examples=tuple(examples),
    )


def test_sft_batches_carry_labels_and_an_attention_mask(micro_track, micro_base, tmp_path):
    ctx = _context(micro_track, micro_base, tmp_path)
    m = get_method("sft")
    trainer = m.build_trainer(ctx, config_class(m.name).parse({}))
    rows = [trainer.train_dataset[i] for i in range(3)]
    batch = trainer.data_collator(rows)
    assert {"input_ids", "attention_mask", "labels"} <= set(batch)
    assert batch["labels"].shape == batch["attention_mask"].shape
    assert (batch["labels"][:, 0] == -100).all()  # the prompt is masked (completion-only loss)
    assert int(batch["attention_mask"].sum()) == sum(len(r["input_ids"]) for r in rows)  # padding is 0 in the mask


def test_kl_and_iw_sft_keep_their_reference_on_the_trainer(micro_track, micro_base, tmp_path):
    for name in ("kl", "iw-sft"):
        ctx = _context(micro_track, micro_base, tmp_path)
        m = get_method(name)
        trainer = m.build_trainer(ctx, config_class(m.name).parse({}))
        assert [role for role, _ in extra_models(trainer)] == ["reference"]


def test_dpo_reloads_its_reference_onto_the_trainer_and_batches_by_completion_mask(micro_track, micro_base, tmp_path):
    ctx = _context(micro_track, micro_base, tmp_path)
    pairs = []
    for ex in ctx.train_examples[:8]:
        chosen, rejected = conversation(ex), conversation(replace(ex, completion=ex.completion[::-1]))
        pairs.append({"prompt": chosen["prompt"], "chosen": chosen["completion"], "rejected": rejected["completion"]})
    args = DPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, max_steps=1, report_to="none",
                     max_length=ctx.max_length, save_strategy="no", disable_tqdm=True, bf16=torch.cuda.is_available())
    trainer = DPOTrainer(model=ctx.model, ref_model=None, args=args, train_dataset=Dataset.from_list(pairs),
                         processing_class=ctx.tokenizer)
    assert [role for role, _ in extra_models(trainer)] == ["reference"]
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    assert {"completion_mask", "attention_mask"} <= set(batch) and "labels" not in batch
    assert batch["completion_mask"].shape[0] == 4  # chosen and rejected rows of 2 pairs
    meter = BudgetMeter(BudgetConfig(), count_parameters(ctx.model))
    attach_meter(trainer, meter)
    with meter.guard(ctx.model):
        trainer.train()
    used = meter.ledger
    assert used.micro_batches == 1 and used.gradient_tokens > 0
    assert used.forward_tokens == {"reference": used.processed_tokens}  # the reference forwards the same batch


def test_grpo_calls_rewards_with_completion_ids_and_meters_its_reference(micro_track, micro_base, tmp_path):
    from harness.rewards import rl_dataset

    ctx = _context(micro_track, micro_base, tmp_path)
    seen = []

    def reward(prompts, completions, completion_ids, **kwargs):
        seen.append((len(prompts), len(completions), completion_ids))
        return [0.0] * len(prompts)

    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=8, num_generations=4, max_completion_length=6,
                      max_steps=1, beta=0.1, report_to="none", save_strategy="no", disable_tqdm=True, logging_steps=1,
                      bf16=torch.cuda.is_available())
    assert args.steps_per_generation == args.gradient_accumulation_steps == 1 and args.num_iterations == 1
    assert args.generation_batch_size == args.per_device_train_batch_size * args.steps_per_generation
    trainer = GRPOTrainer(model=str(micro_base[0]), reward_funcs=[reward], args=args,
                          train_dataset=rl_dataset(ctx.train_examples[:16]), processing_class=ctx.tokenizer)
    assert [role for role, _ in extra_models(trainer)] == ["reference"]  # trainer.ref_model, beta > 0
    meter = BudgetMeter(BudgetConfig(), count_parameters(trainer.model))
    attach_meter(trainer, meter)
    with meter.guard(trainer.model):
        trainer.train()
    ((n_prompts, n_completions, ids),) = seen
    assert n_prompts == n_completions == len(ids) == 8 and all(isinstance(i, list) and i for i in ids)
    used = meter.ledger
    assert used.rollouts == 8 and used.generated_tokens == sum(len(i) for i in ids)
    # the reference scores each prompt + completion once; the generation's own forwards are not forwards here
    assert used.forward_tokens["reference"] >= used.generated_tokens
    assert set(used.forward_tokens) <= {"reference", "policy"}
