"""Model folders named by a submission: checked before anything loads them, so their code never runs.

A submission may point its data recipe at a model folder (`data: {recipe: model, model: DIR}`, or a
`model` source of a mixture) or at a run saved with `harness run --save-model` (`submission: NAME`).
Such a folder is someone else's file tree: its config.json may carry an `auto_map` naming Python
files shipped beside it, which `from_pretrained` would import (or ask about on a terminal), and its
weights may be a pickle (`pytorch_model.bin`), which runs code when unpickled. `check_model_folder`
refuses both before any loading: the folder must hold a readable config.json without `auto_map`, a
tokenizer config without `auto_map`, and safetensors weights. The loader (harness.models) then loads
it with `trust_remote_code=False` and `use_safetensors=True`, so a folder that slipped past the check
still cannot run code or unpickle.

`check_recipe_models` runs when a submission is validated (`data.model`, `data.mix[i].model`: paths,
before any run directory exists); `check_recipe_runs` runs when a run starts, before its directory is
created (`data.submission`, `data.mix[i].submission`: saved runs, which exist only once those runs ran).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import ConfigError
from harness.runs import run_dir

if TYPE_CHECKING:
    from harness.schemas import DataRecipeConfig, DataSourceConfig

SAFETENSORS_PATTERNS = ("model.safetensors", "model.safetensors.index.json", "*.safetensors")
"""Weights the loader accepts from a submission (anything else, e.g. pytorch_model.bin, is a pickle)."""


def model_folder(path: Path) -> Path | None:
    """The model folder at `path`: the `model/` folder of a run saved with --save-model, or the path itself.

    The run's `model/` is looked at first: a run directory holds a config.json of its own (the run's settings),
    which is not a model config."""
    for candidate in (path / "model", path):
        if (candidate / "config.json").is_file():
            return candidate
    return None


def _json(file: Path, source: str | Path | None, field: str) -> dict:
    try:
        data = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(source, field, f"{file} is not a readable JSON file ({e}); point {field} at a model saved "
                          "with save_pretrained (or `harness run --save-model`)") from None
    if not isinstance(data, dict):
        raise ConfigError(source, field, f"{file} does not hold a JSON object; it is not a model config")
    return data


def check_model_folder(path: str | Path, *, source: str | Path | None, field: str, allow_remote_code: bool = False) -> Path:
    """The model folder at `path` (itself or its `model/`), or a ConfigError naming `source`, `field` and the fix.

    Refused: a missing folder or config.json, a config.json or tokenizer_config.json that is not JSON, an `auto_map`
    (custom Python code) in either unless `allow_remote_code`, and weights other than safetensors.
    """
    path = Path(path)
    folder = model_folder(path)
    if folder is None:
        what = "does not exist" if not path.exists() else "holds no config.json (nor does its model/ folder)"
        raise ConfigError(source, field, f"{path} {what}; name a model folder saved with save_pretrained or a run "
                          "directory written by `harness run --save-model`")
    for name in ("config.json", "tokenizer_config.json"):
        file = folder / name
        if not file.is_file():
            continue
        data = _json(file, source, field)
        if "auto_map" in data and not allow_remote_code:
            raise ConfigError(source, field, f"{file} has an `auto_map`: the model needs custom Python code shipped "
                              "with it, and a submission's code never runs. Use a model of a built-in transformers "
                              "architecture (remove `auto_map` and the .py files), saved with save_pretrained")
    if not any(any(folder.glob(p)) for p in SAFETENSORS_PATTERNS):
        pickles = sorted(p.name for p in folder.glob("*.bin")) or sorted(p.name for p in folder.glob("*.pt"))
        found = f" (found {', '.join(pickles)}: pickle files, which run code when loaded)" if pickles else ""
        raise ConfigError(source, field, f"{folder} holds no safetensors weights{found}; save the model with "
                          "save_pretrained(..., safe_serialization=True)")
    return folder


def _named_sources(recipe: DataRecipeConfig) -> list[tuple[str, DataSourceConfig]]:
    """(field prefix, source) of every model source of a recipe: `data` itself or `data.mix[i]`."""
    if recipe.recipe == "model":
        return [("data", recipe.sources()[0])]
    return [(f"data.mix[{i}]", src) for i, src in enumerate(recipe.mix) if src.source == "model"]


def source_field(recipe: DataRecipeConfig, src: DataSourceConfig) -> str:
    """The submission field that names a model source's folder: `data.model`, `data.mix[1].submission`, ..."""
    name = "model" if src.model is not None else "submission"
    for prefix, named in _named_sources(recipe):
        if (named.model, named.submission) == (src.model, src.submission):
            return f"{prefix}.{name}"
    return f"data.{name}"


def check_recipe_models(recipe: DataRecipeConfig, source: str | Path | None) -> None:
    """Every model folder a recipe names by path (`data.model`, `data.mix[i].model`) exists and is code-free."""
    for prefix, src in _named_sources(recipe):
        if src.model is not None:
            check_model_folder(src.model, source=source, field=f"{prefix}.model")


def check_recipe_runs(recipe: DataRecipeConfig, runs_dir: Path, track: str, seed: int, source: str | Path | None = None) -> None:
    """Every saved run a recipe names (`data.submission`, `data.mix[i].submission`) holds a code-free model folder."""
    for prefix, src in _named_sources(recipe):
        if src.submission is not None:
            check_model_folder(run_dir(runs_dir, track, src.submission, seed), source=source, field=f"{prefix}.submission")
