"""One model loader: its dtype/device/remote-code policy, and model folders a submission names never run code.

The custom-code folder is the one of issue #17: a config.json whose `auto_map` names a configuration_*.py shipped
beside it, which writes a marker file when imported. Before the fix, `from_pretrained(DIR)` asked "Do you wish to
run the custom code? [y/N]" and one "y" wrote the marker.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from harness.schemas import DataRecipeConfig, SubmissionConfig
from harness.submissions import parse_submissions
from harness.errors import ConfigError
from harness.model_folders import check_model_folder
from harness.models import LoadPolicy, load_base_model, load_model, load_saved_model, load_submission_model
from harness.runner import RunRequest, execute_run
from harness.tokenizer import build_char_tokenizer

REPO = Path(__file__).resolve().parents[2]


def _save_tiny(folder: Path) -> Path:
    """A real (random) two-layer Llama with the character tokenizer, saved the ordinary way (safetensors)."""
    tok = build_char_tokenizer()
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _custom_code_folder(tmp_path: Path, model_type: str = "evil") -> tuple[Path, Path]:
    """The folder of issue #17 and the marker file its code would write."""
    folder = _save_tiny(tmp_path / "custom-code-model")
    marker = tmp_path / "MARKER"
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(model_type=model_type, auto_map={"AutoConfig": "configuration_evil.EvilConfig",
                                                "AutoModelForCausalLM": "configuration_evil.EvilModel"})
    (folder / "config.json").write_text(json.dumps(cfg))
    (folder / "configuration_evil.py").write_text(
        "from pathlib import Path\n"
        f"Path({str(marker)!r}).write_text('the submission ran code')\n"
        "from transformers import LlamaConfig, LlamaForCausalLM\n"
        "class EvilConfig(LlamaConfig):\n    model_type = 'evil'\n"
        "class EvilModel(LlamaForCausalLM):\n    config_class = EvilConfig\n"
    )
    return folder, marker


def _submission(folder: Path, **data) -> dict:
    return {"name": "from-a-folder", "method": "sft", "data": {"recipe": "model", "model": str(folder), **data}}


# ------------------------------------------------------------------------------------ custom code is refused


def test_validation_refuses_a_custom_code_folder_and_never_runs_it(tmp_path):
    folder, marker = _custom_code_folder(tmp_path)
    with pytest.raises(ConfigError) as err:
        parse_submissions(_submission(folder), "sub.yaml")
    assert err.value.path == "sub.yaml" and err.value.field == "data.model"
    assert "auto_map" in err.value.message and str(folder / "config.json") in err.value.message
    mixed = {"name": "m", "method": "sft",
             "data": {"recipe": "mix", "mix_k": 2, "mix": [{"source": "self"}, {"source": "model", "model": str(folder)}]}}
    with pytest.raises(ConfigError) as err:
        parse_submissions(mixed, "mix.yaml")
    assert err.value.field == "data.mix[1].model"
    assert not marker.exists()


def test_loading_refuses_a_custom_code_folder_even_past_validation(tmp_path):
    folder, marker = _custom_code_folder(tmp_path)
    with pytest.raises(ConfigError, match="auto_map"):  # the data recipe's loader checks the folder itself
        load_submission_model(folder)
    # And the loader underneath never lets transformers decide: remote code off, stated, so no prompt.
    with pytest.raises(ValueError, match="custom code"):
        load_model(folder, LoadPolicy.default())
    assert not marker.exists()


def test_a_known_architecture_with_an_auto_map_is_still_refused(tmp_path):
    # model_type "llama" would let transformers load its own class and skip the shipped code; the folder is
    # refused all the same, because a submission must not ship code at all.
    folder, marker = _custom_code_folder(tmp_path, model_type="llama")
    with pytest.raises(ConfigError, match="auto_map"):
        check_model_folder(folder, source="s.yaml", field="data.model")
    assert not marker.exists()


def test_a_tokenizer_with_custom_code_is_refused(tmp_path):
    folder = _save_tiny(tmp_path / "m")
    tok_cfg = json.loads((folder / "tokenizer_config.json").read_text())
    tok_cfg["auto_map"] = {"AutoTokenizer": ["tokenization_evil.EvilTokenizer", None]}
    (folder / "tokenizer_config.json").write_text(json.dumps(tok_cfg))
    with pytest.raises(ConfigError) as err:
        parse_submissions(_submission(folder), "sub.yaml")
    assert err.value.field == "data.model" and "tokenizer_config.json" in err.value.message


def _cli(args: list[str], cwd: Path, *, terminal: bool) -> tuple[int, str]:
    """`harness ...` in a subprocess, answering "y" to any question: on a pseudo-terminal, or on a plain pipe."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "HARNESS_CACHE_DIR": str(cwd / "cache"), "TERM": "dumb",
           "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "harness.cli", *args]
    if not terminal:
        done = subprocess.run(cmd, input="y\ny\n", capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
        return done.returncode, done.stdout + done.stderr
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(cmd, stdin=secondary, stdout=secondary, stderr=secondary, cwd=cwd, env=env)
    os.close(secondary)
    os.write(primary, b"y\ny\n")
    out, deadline = b"", time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 1)
        if ready:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(primary)
    return proc.wait(timeout=60), out.decode(errors="replace")


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "no-terminal"])
def test_the_cli_refuses_the_folder_with_or_without_a_terminal(tmp_path, terminal):
    folder, marker = _custom_code_folder(tmp_path)
    sub = tmp_path / "sub.yaml"
    sub.write_text(json.dumps(_submission(folder)))  # JSON is YAML
    for args in (["validate", str(sub)], ["run", str(sub), "--track", str(REPO / "tests/fixtures/micro-track.yaml"),
                                            "--runs-dir", str(tmp_path / "runs")]):
        code, out = _cli(args, tmp_path, terminal=terminal)
        assert code == 2, out
        assert "data.model" in out and "auto_map" in out and "Traceback" not in out, out
        assert "[y/N]" not in out
    assert not marker.exists()
    assert not (tmp_path / "runs").exists()  # refused before any directory was created


# ----------------------------------------------------------------------- pickles, missing folders, saved runs


def test_pickle_weights_are_refused(tmp_path):
    folder = _save_tiny(tmp_path / "m")
    state = {k: v for k, v in LlamaForCausalLM.from_pretrained(folder).state_dict().items()}
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(ConfigError) as err:
        parse_submissions(_submission(folder), "sub.yaml")
    assert err.value.field == "data.model" and "pytorch_model.bin" in err.value.message and "pickle" in err.value.message
    with pytest.raises(OSError, match="safetensors"):  # and the loader would not unpickle it either
        load_model(folder, LoadPolicy.default())


def test_a_missing_or_unreadable_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        parse_submissions(_submission(tmp_path / "nowhere"), "sub.yaml")
    assert err.value.field == "data.model" and "does not exist" in err.value.message
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="holds no config.json"):
        parse_submissions(_submission(empty), "sub.yaml")
    (empty / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not a readable JSON file"):
        parse_submissions(_submission(empty), "sub.yaml")


def test_a_run_directory_with_its_saved_model_validates(tmp_path):
    _save_tiny(tmp_path / "run" / "model")
    (sub,) = parse_submissions(_submission(tmp_path / "run"), "sub.yaml")
    assert sub.data.model == str(tmp_path / "run")


def test_a_recipe_naming_an_unsaved_run_stops_before_the_run_directory(micro_track, tmp_path):
    sub = SubmissionConfig(name="from-grpo", method="sft", data=DataRecipeConfig(recipe="model", submission="grpo"))
    with pytest.raises(ConfigError) as err:
        execute_run(RunRequest(sub, micro_track, 0, tmp_path))
    assert err.value.field == "data.submission" and "--save-model" in err.value.message
    assert not (tmp_path / micro_track.name / "from-grpo").exists()


# ------------------------------------------------------------------------------------------------ the policy


def test_the_policy_on_this_machine(micro_track):
    policy = LoadPolicy.for_base_model(micro_track.base_model)
    cuda = torch.cuda.is_available()
    assert policy.device == ("cuda" if cuda else "cpu")
    assert policy.dtype == (torch.bfloat16 if cuda else torch.float32)
    assert policy.trust_remote_code is False
    pinned = micro_track.base_model.model_copy(update={"dtype": "float32", "trust_remote_code": True})
    assert LoadPolicy.for_base_model(pinned).dtype == torch.float32  # the track says
    assert LoadPolicy.for_base_model(pinned).trust_remote_code is True  # only a track may opt in


def test_every_role_loads_the_same_weights_in_the_same_dtype_and_device(micro_track, micro_base, tmp_path):
    base, tok = load_base_model(micro_track, micro_base[0])
    saved, _ = load_saved_model(micro_base[0])
    sampler, sampler_tok = load_submission_model(micro_base[0], like=base)
    first = next(base.parameters())
    for other in (saved, sampler):
        assert next(other.parameters()).dtype == first.dtype and next(other.parameters()).device == first.device
        for (name, p), (_, q) in zip(base.named_parameters(), other.named_parameters(), strict=True):
            assert torch.equal(p, q), name
    assert sampler_tok.get_vocab() == tok.get_vocab()
    if not torch.cuda.is_available():  # CPU: float32, as before the loader was merged
        assert first.dtype == torch.float32 and first.device.type == "cpu"


def test_each_model_source_is_named_by_its_own_field():
    from harness.model_folders import source_field

    mixed = DataRecipeConfig(recipe="mix", mix_k=2, mix=[{"source": "model", "submission": "grpo"},
                                                         {"source": "model", "model": "teacher"}])
    assert [source_field(mixed, s) for s in mixed.sources()] == ["data.mix[0].submission", "data.mix[1].model"]
    single = DataRecipeConfig(recipe="model", model="m")
    assert source_field(single, single.sources()[0]) == "data.model"
