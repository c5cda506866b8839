"""Run directories: where a run lives, atomic writes, reading and writing its records, and whether it is finished.

A run is finished when its metrics.json exists with a status other than "failed"; metrics.json is
written last and atomically, so an interrupted run is simply redone. Records go through the typed
models of harness/record.py both ways; folder names through harness/paths.py (injective, and
always inside the runs directory).
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

from harness.paths import path_component, path_under
from harness.record import Budget, Points, RecordError, RunRecord, parse_record

DEFAULT_RUNS_DIR = Path("runs")
METRICS_FILE = "metrics.json"
POINTS_FILE = "points.json"
LEDGER_FILE = "ledger.json"


TRIAL_PREFIX = "trial-"


def run_dir(runs_dir: Path, track: str, submission: str, seed: int, point: str | None = None,
            trial: str | None = None) -> Path:
    """RUNS_DIR/<track>/<submission>[@<point>]/seed<seed>, each name escaped by harness.paths.path_component;
    a sweep's trial lives under its entry's folder: RUNS_DIR/<track>/<submission>/trial-<trial>[@<point>]/seed<seed>.

    Injective: "@" is always escaped inside a name, so the folder splits back into (submission, point);
    inside an entry's folder a trial folder starts with "trial-" and a plain run's with "seed" followed by
    digits only, so the two never meet; two different (track, submission, trial, point, seed) never share
    a folder; and it is under runs_dir.
    """
    at = "" if point is None else "@" + path_component(str(point))
    if trial is None:
        return path_under(runs_dir, track) / (path_component(submission) + at) / f"seed{int(seed)}"
    return path_under(runs_dir, track, submission) / (TRIAL_PREFIX + path_component(trial) + at) / f"seed{int(seed)}"


def _legacy_folder_name(name: str) -> str:
    """The folder naming before harness/paths.py (not injective: "a/b" and "a_b" both gave "a_b")."""
    out = "".join(c if c.isalnum() or c in "._@=-" else "_" for c in name).strip(".")
    return out or "_"


def adopt_legacy_run(runs_dir: Path, track: str, submission: str, seed: int) -> Path | None:
    """Move a run written under the old folder naming (sweeps: "sw[lr=0.1]" was "sw_lr=0.1_") to its current
    folder, when the current one does not exist yet and the old one holds this very entry's record; returns
    the new folder, or None when there was nothing to move. Another entry's folder is left alone."""
    new = run_dir(runs_dir, track, submission, seed)
    old = Path(runs_dir) / track / _legacy_folder_name(submission) / f"seed{int(seed)}"
    if new.exists() or old == new or "/" in track or track in ("", ".", "..") or not old.is_dir():
        return None
    try:
        check_owner(old, track, submission)
    except RecordError:
        return None
    if not (old / METRICS_FILE).is_file() and not (old / POINTS_FILE).is_file():
        return None
    new.parent.mkdir(parents=True, exist_ok=True)
    os.replace(old, new)
    return new


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


def write_record(path: Path, record: RunRecord) -> None:
    """metrics.json of one run (or point) folder, through the typed record."""
    atomic_write_json(Path(path) / METRICS_FILE, record.to_json_dict())


def read_record(path: Path) -> RunRecord | None:
    """The record in a run folder's metrics.json (None when there is none yet), with run_dir set.

    A file that is not JSON, of another schema version or malformed raises RecordError naming the
    file and how to redo the run.
    """
    f = Path(path) / METRICS_FILE
    if not f.is_file():
        return None
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RecordError(f"{f}: not valid JSON ({err}); rerun the run with --force or move the folder away") from None
    return parse_record(data, str(f)).model_copy(update={"run_dir": str(Path(path))})


def write_ledger(path: Path, ledger: dict[str, Any]) -> Budget:
    """ledger.json of a run folder, through the typed budget; returns it."""
    budget = Budget.model_validate(ledger)
    atomic_write_json(Path(path) / LEDGER_FILE, budget.to_json_dict())
    return budget


def write_points(path: Path, labels: list[str]) -> None:
    """points.json: the point labels of a training run that yields several points (marks it finished)."""
    atomic_write_json(Path(path) / POINTS_FILE, Points(points=labels).to_json_dict())


def read_points(path: Path) -> list[str] | None:
    f = Path(path) / POINTS_FILE
    if not f.is_file():
        return None
    try:
        return Points.model_validate_json(f.read_text(encoding="utf-8")).points
    except ValueError as err:
        raise RecordError(f"{f}: not a valid points file ({err}); rerun the run with --force") from None


def is_finished(path: Path) -> bool:
    """metrics.json with a status other than "failed", or (a run with several points) points.json."""
    if (Path(path) / POINTS_FILE).is_file():
        return True
    record = read_record(path)
    return record is not None and record.status != "failed"


def check_owner(path: Path, track: str, submission: str, point: str | None = None, trial: str | None = None) -> None:
    """Refuse a run folder whose record belongs to another entry (a folder written under the old folder
    naming, or merged by a case-insensitive file system): reusing or overwriting it would mix two entries."""
    f = Path(path) / METRICS_FILE
    try:  # identity only, read leniently: a record of an older schema of this same entry may be redone (--force)
        data = json.loads(f.read_text(encoding="utf-8")) if f.is_file() else None
    except (OSError, ValueError):
        return
    if not isinstance(data, dict):
        return
    found = (data.get("track"), data.get("submission"), None if data.get("point") is None else str(data.get("point")))
    found_trial = data.get("trial")
    found_trial = found_trial.get("label") if isinstance(found_trial, dict) else found_trial
    if found_trial is not None or trial is not None:
        found, wanted = (*found, found_trial), (track, submission, point, trial)
    else:
        wanted = (track, submission, point)
    if found != wanted:
        raise RecordError(f"{f} holds the run of {found}, not of "
                          f"{wanted}; move that folder away (it was written under another "
                          "folder naming, or the file system merged the two names)")


PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers", "math-verify", "lm-eval",
            "vllm", "liger-kernel", "flash-attn")
"""Versions recorded in provenance.json (None: not installed); the last three are the optional GPU packages."""


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
