"""Run directories: where a run lives, atomic writes, and whether it is finished.

A run is finished when its metrics.json exists with a status other than "failed"; metrics.json is
written last and atomically, so an interrupted run is simply redone.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

DEFAULT_RUNS_DIR = Path("runs")


def run_dir(runs_dir: Path, track: str, submission: str, seed: int, point: str | None = None) -> Path:
    name = submission if point is None else f"{submission}@{point}"
    return Path(runs_dir) / track / safe_name(name) / f"seed{seed}"


def safe_name(name: str) -> str:
    """A folder name for untrusted submission names: keep [A-Za-z0-9._@=-], replace the rest."""
    out = "".join(c if c.isalnum() or c in "._@=-" else "_" for c in name).strip(".")
    return out or "_"


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def atomic_write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, default=str) + "\n" for r in rows))


def read_metrics(path: Path) -> dict[str, Any] | None:
    f = Path(path) / "metrics.json"
    if not f.is_file():
        return None
    return json.loads(f.read_text())


def is_finished(path: Path) -> bool:
    """metrics.json with a status other than "failed", or (a run with several points) points.json."""
    if (Path(path) / "points.json").is_file():
        return True
    m = read_metrics(path)
    return m is not None and m.get("status") != "failed"


PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers", "math-verify", "lm-eval")


def provenance(argv: list[str] | None = None) -> dict[str, Any]:
    """Where and with what a run was produced."""
    import torch

    import harness

    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    return {
        "harness_version": harness.__version__,
        "git_commit": _git_commit(),
        "python": sys.version.split()[0],
        "packages": versions,
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "platform": platform.platform(),
        "command": argv if argv is not None else sys.argv,
    }


def _git_commit() -> str | None:
    repo = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None
