"""`--launcher ray`: every (submission or trial, seed) of a study or sweep is one Ray task.

Ray schedules; the harness only says what one run needs (the track's `resources:` block: CPUs, GPUs,
memory) and how often a task whose worker died is retried (`max_retries`, Ray's retry on system
failure: a killed or crashed worker process, a lost node). Exceptions raised by a run itself are not
retried; they are recorded like the local launcher records them.

The runs directory is the contract, on a file system every worker and the driver share:

- A task writes its run into a staging folder, `RUNS_DIR/.staging/<study id>/<task id>/`, laid out like
  the runs directory, and when the run ends (finished or failed) moves each of its folders into place
  with `os.replace` (the training folder of a multi-point run last: its points.json marks it finished).
  So a run folder in the runs directory is whole or absent, never half-written, whatever happens to the
  worker; a retried task starts from a fresh staging folder.
- The driver skips finished runs before submitting anything (they are never redone) and builds or
  converts each track's base model once into the shared cache (`HARNESS_CACHE_DIR`); a task whose
  retries are spent is recorded as failed in its run folder with Ray's reason (`error.json` and a failed
  `metrics.json`, written the same staged way); the next study redoes it.
- The driver removes its own staging folder at the end; a leftover one (a driver killed mid-study) holds
  no finished run and can be deleted.

Each task writes `worker.json` (node, pid, attempt start time) at the top of its staging folder, so one can
see which process holds which run.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rich.console import Console

from harness.errors import ConfigError
from harness.models import resolve_base_model
from harness.runner import RunRequest, execute_run, finished_records, write_failed_run
from harness.runs import POINTS_FILE, atomic_write_json

STAGING = ".staging"
"""Folder under the runs directory holding runs being written (hidden: no reader of runs looks there)."""
WORKER_FILE = "worker.json"
ENV_PREFIXES = ("HARNESS_", "HF_", "TRANSFORMERS_", "TOKENIZERS_")
"""Environment variables passed to every task (the caches, the data directory, offline switches)."""
DEFAULT_MAX_RETRIES = 2


class RayUnavailable(ConfigError):
    """`--launcher ray` without Ray installed (exit 2, before any work)."""

    def __init__(self) -> None:
        super().__init__(None, "--launcher", "ray needs Ray: pip install -e \".[scale]\" (or pip install "
                         "'ray>=2.40,<3'); --launcher local runs without it")


def import_ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable() from None
    return ray


@dataclass
class _Job:
    """One run of the study or sweep: its request and its outcome."""

    request: RunRequest
    rows: list[dict[str, Any]] | None = None
    status: str = "queued"  # queued | done | failed
    error: str | None = None
    raised: bool = False  # the task raised or its worker died for good (not a recorded divergence)

    @property
    def label(self) -> str:
        r = self.request
        trial = f" [{r.trial_label}]" if r.trial_label else ""
        return f"{r.submission.name}{trial} seed {r.seed}"


def run_on_ray(requests: list[RunRequest], console: Console, *, address: str | None = None,
               max_retries: int = DEFAULT_MAX_RETRIES, num_cpus: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """Run every request as a Ray task (finished ones are reused, not submitted); returns the rows of every run in
    request order and how many tasks raised or lost their worker for good (a run that diverged is recorded as
    failed but, as with the local launcher, is the method's outcome, not counted here). Joins the cluster at
    `address`, else starts (or reuses) a local Ray."""
    ray = import_ray()
    jobs = [_Job(replace(req, runs_dir=Path(req.runs_dir).resolve())) for req in requests]  # the same path everywhere
    for job in jobs:  # never redone: skipped before anything is submitted
        reused = finished_records(job.request)
        if reused is not None:
            job.rows, job.status = reused, "done"
    todo = [j for j in jobs if j.status == "queued"]
    console.print(f"{len(jobs) - len(todo)} of {len(jobs)} runs finished already; {len(todo)} to run on Ray",
                  highlight=False)
    if todo:
        for track in {j.request.track.name: j.request.track for j in todo}.values():
            resolve_base_model(track, console)  # once, here (tiny: pretrained into the shared cache), not per task
        _connect(ray, address, num_cpus)
        _check_fits(ray, todo, address)
        stage_root = Path(todo[0].request.runs_dir) / STAGING / uuid.uuid4().hex[:12]
        try:
            _run_jobs(ray, todo, stage_root, max_retries, console, jobs)
        finally:
            shutil.rmtree(stage_root, ignore_errors=True)
            _remove_if_empty(stage_root.parent)
    rows = [row for job in jobs for row in (job.rows or [])]
    return rows, sum(j.raised for j in jobs)


def _connect(ray, address: str | None, num_cpus: int | None) -> None:
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, log_to_driver=False)
    else:  # this machine: all its cores (or num_cpus), a small object store (runs exchange only their rows)
        ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
                 object_store_memory=128 * 2**20)


def _check_fits(ray, todo: list[_Job], address: str | None) -> None:
    """On this machine's Ray, a run asking for more than the machine has would wait forever: refuse it now. (A
    cluster may add nodes on demand, so there Ray's own scheduler decides.)"""
    if address:
        return
    have = ray.cluster_resources()
    for job in todo:
        res = job.request.track.resources
        if res is None:
            continue
        need = {"CPU": res.cpus, "GPU": res.gpus, "memory": (res.memory_gb or 0) * 2**30}
        short = [f"{k} {v:g} (this machine's Ray has {have.get(k, 0):g})" for k, v in need.items() if v > have.get(k, 0)]
        if short:
            raise ConfigError(None, f"track {job.request.track.name}: resources",
                              f"a run asks for {', '.join(short)}; lower the track's resources or join a cluster "
                              "with --address")


def _run_jobs(ray, todo: list[_Job], stage_root: Path, max_retries: int, console: Console, jobs: list[_Job]) -> None:
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    task = ray.remote(_run_task)
    refs = {}
    submitted: dict[tuple[str, int], Any] = {}  # (plain submission, seed) -> its task, for runs that read it
    for job in todo:
        req = job.request
        res = req.track.resources
        options: dict[str, Any] = {"num_cpus": res.cpus if res else 1, "num_gpus": res.gpus if res else 0,
                                   "max_retries": max_retries, "retry_exceptions": False,
                                   "name": f"harness:{job.label}"}
        if res is not None and res.memory_gb is not None:
            options["memory"] = int(res.memory_gb * 2**30)
        sent = replace(req, overrides=None)  # a mappingproxy does not pickle; sent as a dict beside it
        overrides = dict(req.overrides) if req.overrides else None
        # A run whose SFT data comes from another run of this study (data: {submission: ...} or match.submission)
        # starts after that run's task: its result is passed as an argument, so Ray holds the task until it is ready.
        after = [submitted[(name, req.seed)] for name in sorted(reads_runs_of(req.submission))
                 if (name, req.seed) in submitted]
        ref = task.options(**options).remote(sent, overrides, str(stage_root), env, os.getcwd(), *after)
        refs[ref] = job
        if req.trial_label is None:
            submitted[(req.submission.name, req.seed)] = ref
    by_folder = {str(job.request.folder()): job for job in todo}
    running = _running(stage_root, by_folder)
    _show(console, jobs, running, "submitted")
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1, timeout=2.0)
        now = _running(stage_root, by_folder)
        if not ready and now != running:
            _show(console, jobs, now, "started" if now > running else "running")
        running = now
        for ref in ready:
            job = refs[ref]
            try:
                job.rows = ray.get(ref)
                failed = [r for r in job.rows if r.get("status") == "failed"]
                job.status = "failed" if failed else "done"
                job.error = failed[0].get("error") if failed else None
            except Exception as e:  # the run raised (already recorded by the task), or its retries are spent
                job.status, job.error, job.raised = "failed", _reason(ray, e), True
                job.rows = _record_failure(job.request, stage_root, job.error, e)
            note = f": {job.error}" if job.error else ""
            running = _running(stage_root, by_folder)
            _show(console, jobs, running, f"{job.label} {job.status}{note}")


def reads_runs_of(submission) -> set[str]:
    """Submissions whose runs (same track and seed) this submission's data recipe reads: model sources named by
    submission and `match.submission`."""
    data = submission.data
    names = {src.submission for src in data.sources() if src.submission is not None}
    if data.match is not None and data.match.submission is not None:
        names.add(data.match.submission)
    return names


def _running(stage_root: Path, by_folder: dict[str, _Job]) -> int:
    """Runs that a worker has started (its worker.json is in the staging folder) and that have not ended; a retried
    run counts once."""
    import json

    started = set()
    for f in stage_root.glob(f"*/{WORKER_FILE}"):
        try:
            started.add(json.loads(f.read_text())["run"])
        except (OSError, ValueError, KeyError):
            continue
    return sum(1 for run in started if run in by_folder and by_folder[run].status == "queued")


def _show(console: Console, jobs: list[_Job], running: int, event: str) -> None:
    done = sum(j.status == "done" for j in jobs)
    failed = sum(j.status == "failed" for j in jobs)
    queued = len(jobs) - done - failed - running
    console.print(f"[{done}/{len(jobs)} done, {running} running, {queued} queued, {failed} failed] {event}",
                  highlight=False, markup=False)


def _reason(ray, error: Exception) -> str:
    """One line: why a task failed (its worker died and the retries are spent, in Ray's words, or the run's own
    exception)."""
    from ray import exceptions as rex

    cause = getattr(error, "cause", None) if isinstance(error, rex.RayTaskError) else error
    cause = cause if cause is not None else error
    lines = str(cause).strip().splitlines()
    first = lines[0] if lines else ""
    if isinstance(cause, (rex.WorkerCrashedError, rex.NodeDiedError, rex.OutOfMemoryError)):
        return f"{type(cause).__name__}: the Ray worker running this run died and its retries are spent ({first})"
    return f"{type(cause).__name__}: {first}"


def _record_failure(req: RunRequest, stage_root: Path, reason: str, error: Exception) -> list[dict[str, Any]]:
    """The run's record when its task failed: the one the task published, else a failed record written (staged,
    then moved into place) by the driver."""
    from harness.record import RecordError
    from harness.runs import read_record

    try:
        record = read_record(req.folder())
    except RecordError:
        record = None
    if record is not None and record.status == "failed":  # the run itself raised: the task already recorded it
        return [record.to_json_dict()]
    stage = stage_root / ("driver-" + uuid.uuid4().hex[:8])
    out = replace(req, stage_dir=stage).write_folder()
    out.mkdir(parents=True, exist_ok=True)
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    record = write_failed_run(req, out, reason, trace)
    publish(stage, Path(req.runs_dir))
    return [record.to_json_dict()]


# ------------------------------------------------------------------------------------------- in the worker


def _run_task(req: RunRequest, overrides: dict | None, stage_root: str, env: dict[str, str],
              cwd: str, *after: Any) -> list[dict[str, Any]]:
    """One run inside a Ray worker: stage it, then move its folders into the runs directory (also when it fails).
    Runs in the driver's working directory when this node has it (a shared checkout), so relative paths agree.
    `after`: the results of the runs it reads (Ray starts it once they are there)."""
    os.environ.update(env)
    if Path(cwd).is_dir():
        os.chdir(cwd)
    if overrides:
        req = replace(req, overrides=MappingProxyType(overrides))
    stage = Path(stage_root) / uuid.uuid4().hex[:12]
    stage.mkdir(parents=True, exist_ok=True)
    atomic_write_json(stage / WORKER_FILE, {"node": platform.node(), "pid": os.getpid(), "started": time.time(),
                                            "run": str(req.folder())})
    console = Console(file=sys.stderr, quiet=True)
    try:
        rows = execute_run(replace(req, stage_dir=stage), console)
    except BaseException:
        publish(stage, Path(req.runs_dir))  # the failed record the runner wrote (if any) replaces the old folder
        raise
    publish(stage, Path(req.runs_dir))
    shutil.rmtree(stage, ignore_errors=True)
    return rows


def publish(stage: Path, runs_dir: Path) -> list[Path]:
    """Move every run folder written under `stage` to the same place under `runs_dir` (os.replace: whole or not at
    all; an older folder there is moved aside first, then deleted). A multi-point run's training folder goes last,
    as its points.json marks the run finished. Returns the folders published."""
    folders = sorted((p.parent for p in stage.rglob("metrics.json")), key=str)
    folders += sorted((p.parent for p in stage.rglob(POINTS_FILE) if not (p.parent / "metrics.json").is_file()), key=str)
    done = []
    for folder in folders:
        target = runs_dir / folder.relative_to(stage)
        target.parent.mkdir(parents=True, exist_ok=True)
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(target, old)
        os.replace(folder, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        done.append(target)
    return done


def _remove_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass
