"""Optional packages a track may need on a GPU machine, checked before any work.

vLLM (`eval.backend: vllm`: evaluation, lm-eval's vLLM model, and TRL's colocated generation for GRPO/RLOO), Liger
kernels (`efficiency.use_liger_kernel`) and flash-attn (`efficiency.attn_implementation: flash_attention_2`) are not
dependencies of the harness: none installs on a CPU-only machine. A run that needs one that is missing is refused
before any model is loaded or any run folder is written, with the command that installs it. Light on purpose:
`importlib.util.find_spec` only, so `harness validate` can say it too without importing torch.
"""

from __future__ import annotations

import importlib.util

from harness.schemas import TrackConfig

INSTALL = {
    "vllm": 'pip install "trl[vllm]==1.16.*" (vLLM 0.22 to 0.31, the range TRL 1.16 supports; a CUDA machine, with '
            "the torch build that vLLM release needs)",
    "liger_kernel": 'pip install "liger-kernel>=0.8.2" (TRL\'s `liger` extra; CUDA or ROCm)',
    "flash_attn": "pip install flash-attn --no-build-isolation (CUDA, matching your torch)",
}


class MissingPackage(RuntimeError):
    """A setting of the track (or the command line) needs a package that is not installed here."""


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def needed_packages(track: TrackConfig, backend: str | None = None) -> dict[str, str]:
    """module -> the setting that needs it, for every optional package the track's runs import."""
    needs: dict[str, str] = {}
    if (backend or track.eval.backend) == "vllm":
        needs["vllm"] = "eval.backend: vllm" if backend is None else f"--backend {backend}"
    eff = track.efficiency
    if eff is not None and eff.use_liger_kernel:
        needs["liger_kernel"] = "efficiency.use_liger_kernel: true"
    if eff is not None and eff.attn_implementation == "flash_attention_2":
        needs["flash_attn"] = "efficiency.attn_implementation: flash_attention_2"
    return needs


def missing_packages(track: TrackConfig, backend: str | None = None) -> list[str]:
    """One line per missing package: the setting that needs it and how to install it (empty: nothing missing)."""
    return [f"track {track.name!r} sets {setting}, which needs the {module} package; it is not installed. "
            f"Install it with: {INSTALL[module]}"
            for module, setting in needed_packages(track, backend).items() if not installed(module)]


def require_packages(track: TrackConfig, backend: str | None = None) -> None:
    """Raise MissingPackage (all missing packages in one message) before any work, or return."""
    missing = missing_packages(track, backend)
    if missing:
        raise MissingPackage("; ".join(missing))
