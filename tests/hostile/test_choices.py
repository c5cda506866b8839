"""The choices `harness validate` checks without importing torch agree with the libraries that use them.

- SCHEDULERS (and UNUSABLE_SCHEDULERS) split transformers' own SchedulerType exactly: every usable one builds
  TrainingArguments and a scheduler with no extra settings, every other fails there.
- `model_modules` (the LoRA targets known from a track's config) are the tiny model's real module names: PEFT finds
  every accepted target in the real model and refuses what the check refuses; a list passes only when each of its
  entries would (PEFT itself takes a list when one entry matches, so a typo in another goes unnoticed).
"""

from __future__ import annotations

import pytest

from harness.methods.configs import SCHEDULERS, UNUSABLE_SCHEDULERS


def _usable(name: str, tmp_path) -> bool:
    import torch
    from transformers import TrainingArguments, get_scheduler

    try:
        TrainingArguments(output_dir=str(tmp_path / "ta"), lr_scheduler_type=name, report_to="none", save_strategy="no")
        opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
        get_scheduler(name, opt, num_warmup_steps=1, num_training_steps=10)
    except (ValueError, TypeError):
        return False
    return True


def test_the_scheduler_lists_split_transformers_enum_exactly(tmp_path):
    from transformers.trainer_utils import SchedulerType

    names = {s.value for s in SchedulerType}
    assert set(SCHEDULERS) | set(UNUSABLE_SCHEDULERS) == names and not set(SCHEDULERS) & set(UNUSABLE_SCHEDULERS)
    assert {n for n in names if _usable(n, tmp_path)} == set(SCHEDULERS)


def _peft_accepts(make_model, targets) -> bool:
    from peft import LoraConfig, get_peft_model

    try:  # a fresh model each time: get_peft_model adds its adapters in place
        get_peft_model(make_model(), LoraConfig(r=2, lora_alpha=4, target_modules=targets, task_type="CAUSAL_LM"))
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("targets", [
    ["q_proj"], ["q_proj", "v_proj"], ["self_attn.o_proj"], ["mlp.down_proj", "gate_proj"], ["lm_head"],
    r".*\.(q|k)_proj", "model.layers.1.mlp.up_proj", ["nope"], ["q_proj", "nope"], ["input_layernorm"],
    "nothing.*", ["layers.0.self_attn.q_proj"], ["proj"],
])
def test_lora_target_checks_agree_with_peft_on_the_real_model(micro_track, targets):
    from transformers import AutoModelForCausalLM, LlamaConfig

    from harness.submissions import _targets_problem, model_modules

    sizes = micro_track.base_model.pretrain.model.model_dump()
    def make_model():
        return AutoModelForCausalLM.from_config(LlamaConfig(vocab_size=64, **sizes))

    modules = model_modules(micro_track)
    real = {name for name, module in make_model().named_modules() if type(module).__name__ in ("Linear", "Embedding")}
    assert set(modules) == real
    ours = _targets_problem(targets, modules) is None
    if isinstance(targets, str):
        assert ours == _peft_accepts(make_model, targets)
    else:  # stricter than PEFT, which takes a list when one entry matches: every entry must name a module
        assert ours == all(_peft_accepts(make_model, [t]) for t in targets)
