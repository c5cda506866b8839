"""Reading run directories (docs/runs.md) for the site and for compare: the I/O that scoring.py avoids.

Records are read through harness.runs.read_record (the typed harness.record.RunRecord); a record of
another schema version is refused with a RecordError that names the file and how to redo the run.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.record import RecordError, RunRecord
from harness.runs import METRICS_FILE as METRICS
from harness.runs import TRIAL_PREFIX, read_record

RUN_FILES = {"config": "config.json", "provenance": "provenance.json", "ledger": "ledger.json"}
"""The files a run page shows, by the name the page uses."""


def read_metrics(run_dir: Path) -> RunRecord:
    """One run's record, with run_dir set; RecordError names a file that is not JSON or not a record of this schema."""
    record = read_record(run_dir)
    if record is None:
        raise FileNotFoundError(f"{Path(run_dir) / METRICS}: no such file (the run is not finished)")
    return record


def seed_dirs(submission_dir: Path) -> list[Path]:
    """The finished runs (those with metrics.json) of one submission directory, a sweep's trials included
    (trial-*/seed*/), in path order."""
    root = Path(submission_dir)
    return sorted(p.parent for p in [*root.glob(f"seed*/{METRICS}"), *root.glob(f"{TRIAL_PREFIX}*/seed*/{METRICS}")])


def load_records(runs_dir: Path) -> list[RunRecord]:
    """Every finished run under runs_dir/<track>/<submission>/seed*/ and, for sweeps, under
    runs_dir/<track>/<submission>/trial-*/seed*/; unfinished runs have no metrics.json.

    Two folders holding the same run (track, submission, point, seed) are refused rather than counted twice:
    that happens when a run written under the old folder naming is run again under the current one.
    """
    files = sorted([*Path(runs_dir).glob(f"*/*/seed*/{METRICS}"), *Path(runs_dir).glob(f"*/*/{TRIAL_PREFIX}*/seed*/{METRICS}")])
    records = [read_metrics(p.parent) for p in files]
    seen: dict[tuple, RunRecord] = {}
    for record in records:
        key = (*record.entry, record.trial.label if record.trial else None, record.seed)
        if key in seen:
            raise RecordError(f"{seen[key].run_dir} and {record.run_dir} both hold the run {key}; move the one "
                              "written under the old folder naming away")
        seen[key] = record
    return records


def load_run_files(run_dir: Path) -> dict[str, object]:
    """config, provenance and ledger of one run, parsed; a missing file is left out."""
    found = {}
    for name, file in RUN_FILES.items():
        path = Path(run_dir) / file
        if path.is_file():
            found[name] = json.loads(path.read_text(encoding="utf-8"))
    return found


def load_samples(run_dir: Path, per_outcome: int = 20) -> dict[str, list[dict]]:
    """Up to per_outcome correct and per_outcome wrong samples per task, in file order.

    Streams each samples/<task>.jsonl and stops keeping lines once both quotas are full, so a
    task with thousands of long completions costs one pass and little memory.
    """
    samples = {}
    for path in sorted((Path(run_dir) / "samples").glob("*.jsonl")):
        kept, counts = [], {True: 0, False: 0}
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if not line.strip():
                    continue
                sample = json.loads(line)
                outcome = bool(sample.get("correct"))
                if counts[outcome] < per_outcome:
                    counts[outcome] += 1
                    kept.append(sample)
                if min(counts.values()) >= per_outcome:
                    break
        samples[path.stem] = kept
    return samples
