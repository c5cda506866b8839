"""GPU settings without a GPU: the efficiency block and its mapping onto TRL, the vLLM wiring (one engine per evaluated
model, GRPO/RLOO on TRL's colocated vLLM, rollouts metered the same way) and the refusal, before any work, of a run
that needs a package this machine lacks.

vLLM cannot be installed on a CPU machine, so two tests stand a small engine in for it: `FakeVllm` (the `vllm.LLM`
calls the harness makes) and `StandInRollouts` (the `VLLMGeneration.generate` call TRL's GRPO makes). They check the
harness's wiring around vLLM, not vLLM; bench/gpu.py and a GPU machine do the rest."""

from __future__ import annotations

import dataclasses
import json
import sys
import types
from pathlib import Path
from types import MappingProxyType

import pytest
import torch

from harness.config import load_track, track_version
from harness.errors import ConfigError
from harness.optional_packages import MissingPackage, installed, missing_packages
from harness.schemas import EfficiencyConfig, EvalConfig

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BASELINES = Path(__file__).resolve().parents[2] / "submissions" / "baselines"
GPU_TRACKS = ["qwen-esci-cot-gpu", "qwen-esci-nocot-gpu", "qwen-medcalc-gpu", "qwen-math-gpu"]


def _ctx(track_dict, tmp_path, model=None, tok=None, **fields):
    from harness.methods import TrainContext

    return TrainContext(model=model, tokenizer=tok, train_dataset=None, output_dir=tmp_path / "trainer", seed=0,
                        track=MappingProxyType(track_dict), max_length=40, **fields)


# ----------------------------------------------------------------------------------------- the efficiency block


def test_gpu_tracks_turn_on_efficiency_settings_and_name_their_suite():
    for name in GPU_TRACKS:
        track = load_track(name)
        assert track.efficiency is not None and track.efficiency.bf16 is True, name
        assert track.efficiency.attn_implementation == "sdpa"
        assert track.general_suite.name == ("seed000-general" if name == "qwen-math-gpu" else "seed004-general")
    assert load_track("qwen-medcalc-gpu").efficiency.gradient_checkpointing is True
    assert load_track("qwen-esci-cot-gpu").efficiency.gradient_checkpointing is False


def test_padding_free_needs_flash_attention_and_unknown_fields_are_refused(tmp_path):
    text = (FIXTURES / "micro-track.yaml").read_text()
    path = tmp_path / "t.yaml"
    path.write_text(text + "efficiency: {padding_free: true}\n")
    with pytest.raises(ConfigError, match="flash_attention_2") as e:
        load_track(path)
    assert e.value.path == str(path) and "efficiency" in str(e.value)
    path.write_text(text + "efficiency: {bf16: true, fused_adam: true}\n")
    with pytest.raises(ConfigError, match="fused_adam"):
        load_track(path)
    path.write_text(text + "efficiency: {attn_implementation: flash_attention_3}\n")
    with pytest.raises(ConfigError, match="attn_implementation"):
        load_track(path)


def test_the_block_is_in_the_track_version_only_when_set(micro_track):
    assert micro_track.efficiency is None
    plain = track_version(micro_track)
    assert track_version(micro_track.model_copy(update={"efficiency": None})) == plain
    set_ = micro_track.model_copy(update={"efficiency": EfficiencyConfig(bf16=False)})
    assert track_version(set_) != plain
    assert track_version(micro_track.model_copy(update={"efficiency": EfficiencyConfig(bf16=True)})) != track_version(set_)


def test_efficiency_maps_onto_trl_configs(tmp_path):
    from harness.methods import config_class
    from harness.methods.base import efficiency_args, sft_args

    hp = config_class("sft").parse({})
    plain = sft_args(_ctx({}, tmp_path), hp)
    assert plain.bf16 is torch.cuda.is_available() and plain.gradient_checkpointing is False
    assert plain.padding_free is False and plain.packing is False and plain.use_liger_kernel is False

    eff = EfficiencyConfig(bf16=True, gradient_checkpointing=True, attn_implementation="flash_attention_2",
                           padding_free=True).model_dump()
    args = sft_args(_ctx({"efficiency": eff}, tmp_path), hp)
    assert args.bf16 is True and args.gradient_checkpointing is True
    assert args.padding_free is True and args.packing is True and args.packing_strategy == "bfd"
    assert args.max_length == 40  # packed rows still stop at the track's length
    assert efficiency_args(_ctx({"efficiency": {"use_liger_kernel": True}}, tmp_path))["use_liger_kernel"] is True


def test_padding_free_is_refused_for_token_losses(micro_track, micro_base, tmp_path):
    from harness.methods import config_class, get_method
    from harness.models import load_saved_model
    from harness.track_data import domain_train_examples, to_dataset

    model, tok = load_saved_model(micro_base[0])
    eff = EfficiencyConfig(attn_implementation="flash_attention_2", padding_free=True).model_dump()
    ctx = dataclasses.replace(_ctx({"efficiency": eff}, tmp_path, model, tok),
                              train_dataset=to_dataset(domain_train_examples(micro_track)))
    with pytest.raises(ValueError, match="padding_free"):
        get_method("talr").build_trainer(ctx, config_class("talr").parse({}))


def test_the_run_records_what_it_applies(micro_track, micro_base, tmp_path):
    from harness.runner import RunRequest, execute_run
    from harness.submissions import load_submission

    track = micro_track.model_copy(update={"efficiency": EfficiencyConfig(gradient_checkpointing=True)})
    execute_run(RunRequest(load_submission(BASELINES / "sft.yaml"), track, 0, tmp_path / "runs"))
    config = json.loads((tmp_path / "runs" / "micro" / "sft" / "seed0" / "config.json").read_text())
    eff = config["efficiency"]
    assert eff["requested"] == {"gradient_checkpointing": True}
    assert eff["gradient_checkpointing"] is True and eff["bf16"] is torch.cuda.is_available()
    assert eff["attn_implementation"] == "default" and eff["eval_backend"] == "transformers"
    prov = json.loads((tmp_path / "runs" / "micro" / "sft" / "seed0" / "provenance.json").read_text())
    assert {"vllm", "liger-kernel", "flash-attn"} <= set(prov["packages"])


# ------------------------------------------------------------------------------------------ missing packages


def test_missing_packages_name_the_setting_and_the_install_command(micro_track, monkeypatch):
    import harness.optional_packages as op

    monkeypatch.setattr(op, "installed", lambda module: False)
    track = micro_track.model_copy(update={
        "eval": micro_track.eval.model_copy(update={"backend": "vllm"}),
        "efficiency": EfficiencyConfig(use_liger_kernel=True, attn_implementation="flash_attention_2")})
    lines = missing_packages(track)
    assert len(lines) == 3
    assert "eval.backend: vllm" in lines[0] and 'pip install "trl[vllm]==1.16.*"' in lines[0]
    assert "efficiency.use_liger_kernel" in lines[1] and "liger-kernel" in lines[1]
    assert "flash_attention_2" in lines[2] and "pip install flash-attn" in lines[2]
    assert missing_packages(micro_track) == []


def test_a_run_that_needs_a_missing_package_is_refused_before_any_work(micro_track, tmp_path, monkeypatch):
    import harness.optional_packages as op
    from harness.runner import RunRequest, execute_run
    from harness.submissions import load_submission

    monkeypatch.setattr(op, "installed", lambda module: module != "liger_kernel")
    track = micro_track.model_copy(update={"efficiency": EfficiencyConfig(use_liger_kernel=True)})
    with pytest.raises(MissingPackage, match="liger-kernel"):
        execute_run(RunRequest(load_submission(BASELINES / "sft.yaml"), track, 0, tmp_path / "runs"))
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(installed("vllm"), reason="vllm is installed here")
def test_cli_refuses_a_vllm_track_without_vllm_and_validate_says_so(tmp_path, capsys):
    from harness.cli import main

    runs = tmp_path / "runs"
    assert main(["run", str(BASELINES / "sft.yaml"), "--track", "qwen-math-gpu", "--runs-dir", str(runs)]) == 1
    err = capsys.readouterr().err
    assert "eval.backend: vllm" in err and 'pip install "trl[vllm]==1.16.*"' in err
    assert not runs.exists()
    assert main(["validate", str(BASELINES / "sft.yaml"), "--track", "qwen-math-gpu"]) == 0  # a note, not an error
    out = capsys.readouterr().out
    assert "general suite seed000-general" in out and "note:" in out and "trl[vllm]" in out


def test_validate_shows_each_gpu_track_suite(capsys):
    from harness.cli import main

    for name in GPU_TRACKS:
        assert main(["validate", str(BASELINES / "sft.yaml"), "--track", name]) == 0
        out = capsys.readouterr().out
        if name == "qwen-math-gpu":
            assert "general suite seed000-general" in out and "bbh" in out and "gpqa_diamond" in out
            assert "no local data (unavailable offline): gpqa_diamond" in out
        else:
            assert "general suite seed004-general" in out
            assert "ifeval, gsm8k_5shot, humaneval, hellaswag, arc_easy, arc_challenge, piqa, mmlu" in out
            assert "runs only with --allow-code-execution: humaneval" in out
        assert "efficiency: bf16=True, attn_implementation=sdpa" in out


@pytest.mark.skipif(installed("vllm"), reason="vllm is installed here")
def test_the_vllm_generator_says_what_to_install(micro_base):
    from harness.generation import open_generator
    from harness.models import load_saved_model
    from harness.schemas import SamplingConfig

    model, tok = load_saved_model(micro_base[0])
    with open_generator("vllm", model, tok) as gen:
        with pytest.raises(RuntimeError, match=r'trl\[vllm\]'):
            gen.generate(["a"], SamplingConfig())
        assert gen.engines_built == 0


# ------------------------------------------------------------------------------ vLLM wiring (engine stood in)


class FakeVllm(types.ModuleType):
    """The `vllm` calls the harness makes: `LLM(model=folder, ...)` and `LLM.generate(prompts, SamplingParams)`."""

    def __init__(self):
        super().__init__("vllm")
        self.engines: list[dict] = []
        self.calls: list[int] = []
        fake = self

        class SamplingParams:
            def __init__(self, **kwargs):
                self.n = kwargs["n"]
                self.kwargs = kwargs

        class LLM:
            def __init__(self, model, **kwargs):
                assert (Path(model) / "config.json").is_file()  # the evaluated model, saved once for the engine
                fake.engines.append({"model": model, **kwargs})

            def generate(self, prompts, params, use_tqdm=True):
                fake.calls.append(len(prompts))
                out = types.SimpleNamespace
                return [out(outputs=[out(text="=0", token_ids=[5, 6], finish_reason="stop")] * params.n)
                        for _ in prompts]

        self.LLM, self.SamplingParams = LLM, SamplingParams


def test_one_vllm_engine_serves_every_task_of_an_evaluated_model(micro_track, micro_base, tmp_path, monkeypatch):
    import harness.optional_packages as op
    from harness.runner import RunRequest, execute_run
    from harness.submissions import load_submission

    fake = FakeVllm()
    monkeypatch.setitem(sys.modules, "vllm", fake)
    monkeypatch.setattr(op, "installed", lambda module: module != "lm_eval")  # the engine alone (no lm-eval model)
    track = micro_track.model_copy(update={"eval": micro_track.eval.model_copy(update={"backend": "vllm"})})
    [metrics] = execute_run(RunRequest(load_submission(BASELINES / "base.yaml"), track, 0, tmp_path / "runs"))

    assert len(fake.engines) == 1  # one engine for the model: 3 test tasks and 3 validation tasks served from it
    assert fake.calls == [24] * 6
    assert fake.engines[0]["seed"] == track.eval.seed and 0 < fake.engines[0]["gpu_memory_utilization"] <= 0.9
    assert not Path(fake.engines[0]["model"]).exists()  # the engine's model folder is removed after evaluation
    assert metrics["status"] == "ok" and metrics["tasks"]["parity"]["mean_length"] == 2  # the engine's completions
    config = json.loads((tmp_path / "runs" / "micro" / "base" / "seed0" / "config.json").read_text())
    assert config["efficiency"]["eval_backend"] == "vllm" and config["efficiency"]["rl_generation"] == "vllm-colocate"


def test_grpo_and_rloo_generate_through_colocated_vllm_when_the_backend_is_vllm(micro_track, tmp_path):
    from harness.methods import config_class, get_method

    vllm_track = micro_track.model_copy(update={"eval": EvalConfig(backend="vllm")}).model_dump()
    hp = {"per_device_train_batch_size": 8, "num_generations": 4}
    for name in ("grpo", "rloo", "reinforce"):
        method = get_method(name)
        args = method.rl_config(_ctx(vllm_track, tmp_path), config_class(name).parse(hp))
        assert args.use_vllm is True and args.vllm_mode == "colocate", name
        plain = method.rl_config(_ctx(micro_track.model_dump(), tmp_path), config_class(name).parse(hp))
        assert plain.use_vllm is False, name


class StandInRollouts:
    """TRL's `VLLMGeneration` as GRPO calls it in colocate mode: `generate(prompts=token ids, ...)` returns
    (prompt ids, completion ids, per-token top-1 logprobs, logprob token ids); `sync_weights()` after each step."""

    def __init__(self, eos: int, lengths=(3, 5)):
        self.eos, self.lengths, self.syncs, self.completion_tokens = eos, lengths, 0, 0

    def sync_weights(self):
        self.syncs += 1

    def generate(self, prompts, images, num_generations, profiler=None):
        completions = []
        for i, _ in enumerate(prompts):
            n = self.lengths[i % len(self.lengths)]
            completions.append([7] * (n - 1) + [self.eos])
        self.completion_tokens += sum(map(len, completions))
        logprobs = [[[-1.0] for _ in ids] for ids in completions]
        return prompts, completions, logprobs, [[[t] for t in ids] for ids in completions]


def test_rollouts_generated_through_vllm_are_metered_like_any_other(micro_track, micro_base, tmp_path):
    """TRL's vLLM branch (use_vllm, colocate) with the engine stood in: every rollout still reaches the reward function
    the meter wraps, so rollouts and generated tokens are charged exactly; the extra policy forward TRL runs for its
    importance-sampling correction is charged to the policy."""
    from harness.budget import BudgetMeter, count_parameters
    from harness.methods import TrainContext, config_class, get_method
    from harness.methods.base import meter_trainer
    from harness.models import load_saved_model
    from harness.prepare import prepare_training
    from harness.schemas import DataRecipeConfig

    model, tok = load_saved_model(micro_base[0])
    meter = BudgetMeter(micro_track.budget, count_parameters(model))
    method = get_method("grpo")
    prep = prepare_training(micro_track, DataRecipeConfig(), method, model, tok, meter, seed=0, runs_dir=tmp_path,
                            curve_every=None)
    ctx = TrainContext(model=model, tokenizer=tok, output_dir=tmp_path / "trainer", seed=0,
                       track=MappingProxyType(micro_track.model_dump()), max_length=micro_track.training.max_length,
                       base_model_dir=micro_base[0], **prep.context_fields())
    hp = config_class("grpo").parse({"per_device_train_batch_size": 16, "num_generations": 4, "max_completion_length": 12,
                                     "learning_rate": 1e-3, "max_steps": 2, "logging_steps": 1})
    trainer = method.build_trainer(ctx, hp)
    engine = StandInRollouts(tok.eos_token_id)
    # What GRPOTrainer.__init__ sets with use_vllm=True (it would build the engine, which needs vLLM and a GPU).
    trainer.use_vllm, trainer.vllm_mode, trainer.vllm_generation, trainer._last_loaded_step = True, "colocate", engine, -1
    assert trainer.vllm_importance_sampling_correction is True
    meter_trainer(trainer, meter)
    with meter.guard():
        trainer.train()

    used = meter.ledger
    assert used.optimizer_steps == 2 and engine.syncs == 2
    assert used.rollouts == 2 * 16  # one generation batch of 16 completions per step
    assert used.generated_tokens == engine.completion_tokens == 2 * 8 * (3 + 5)
    assert used.generation_flops == 2 * used.parameters * used.generated_tokens
    assert used.forward_flops.get("policy", 0) > 0  # TRL's old-logprob forward for the importance-sampling correction
    assert sum(t.rollouts for t in meter.rollout_log.tallies.values()) == used.rollouts
