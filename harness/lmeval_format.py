"""A run's results in lm-evaluation-harness's own file shapes, so tools that read lm-eval output read the harness's.

Written next to metrics.json, under `<run dir>/lm-eval/`, with lm-eval's file names (what
`lm_eval.utils.get_results_filenames`, `get_sample_results_filenames` and `get_latest_filename` look for):

    results_<timestamp>.json          lm-eval's aggregated results: per task `results` (metric,filter keys with
                                      values as fractions and their `_stderr`), `configs`, `versions`, `n-shot`,
                                      `higher_is_better`, `n-samples`, plus `config` (the model) and a `harness`
                                      block (track, submission, seed, track version)
    samples_<task>_<timestamp>.jsonl  per document, lm-eval's sample layout: doc_id, doc, target, arguments,
                                      resps, filtered_resps, filter, metrics, the three hashes and the metric values

The harness's own tasks are translated (one document per test item; its k completions are the item's
responses, the extracted answers its filtered responses). General-suite tasks run through lm-eval keep
lm-eval's own per-sample records unchanged (harness.lmeval writes them under `lmeval/output/`; they are
copied here under the shared timestamp). Pure: JSON and file names only.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.runs import atomic_write_json, atomic_write_jsonl

FOLDER = "lm-eval"
OUTPUT_DIR = Path("lmeval") / "output"
"""Under a run folder: lm-eval's own output per general-suite entry (results.json, samples_<task>.jsonl), kept
as lm-eval produced it (harness.lmeval writes it)."""
FILTER = "none"
"""The filter key of harness-graded metrics (the grader's extraction is the task's own, not an lm-eval filter)."""


def timestamp(moment: datetime | None = None) -> str:
    """lm-eval's file-name timestamp: ISO time with ':' replaced, so names sort by time."""
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H-%M-%S.%f")


def _hash(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_metric(metric: str) -> tuple[str, str]:
    """("acc_norm", "none") from "acc_norm"; ("exact_match", "flexible-extract") from "exact_match (flexible-extract)"."""
    m = re.fullmatch(r"(.+?) \((.+)\)", metric)
    return (m.group(1), m.group(2)) if m else (metric, FILTER)


def _stderr(item_scores: list[float]) -> float | None:
    """Standard error of the mean over items (lm-eval's mean_stderr: sample standard deviation / sqrt(n))."""
    n = len(item_scores)
    if n < 2:
        return None
    mean = sum(item_scores) / n
    return math.sqrt(sum((x - mean) ** 2 for x in item_scores) / (n - 1) / n)


def task_results(name: str, metrics: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, bool]]:
    """(results entry, config entry, higher_is_better) of one task from its metrics.json entry."""
    metric, filt = split_metric(metrics.get("metric") or "score")
    value = metrics["score"] / 100
    if metrics.get("source") == "lm-eval":
        stderr = metrics["stderr"] / 100 if metrics.get("stderr") is not None else None
    else:
        stderr = _stderr(list(metrics.get("item_scores") or []))
    entry: dict[str, Any] = {"alias": name, f"{metric},{filt}": value,
                             f"{metric}_stderr,{filt}": stderr if stderr is not None else "N/A"}
    higher = {metric: True}
    if metrics.get("pass@k") is not None and metrics.get("k"):
        pass_name = f"pass@{metrics['k']}"
        entry[f"{pass_name},{filt}"] = metrics["pass@k"]
        entry[f"{pass_name}_stderr,{filt}"] = "N/A"
        higher[pass_name] = True
    config = {
        "task": name,
        "tag": [metrics["role"]],
        "output_type": "generate_until",
        "num_fewshot": metrics.get("n_shot") or 0,
        "repeats": metrics.get("k") or 1,
        "metric_list": [{"metric": m, "aggregation": "mean", "higher_is_better": True} for m in higher],
        "metadata": {"version": metrics.get("task_version"), "source": metrics.get("source") or "ft-harness",
                     "lm_eval_task": metrics.get("lm_eval_task")},
    }
    return entry, config, higher


def results_document(record: dict[str, Any], generation: dict[str, Any], provenance: dict[str, Any] | None = None,
                     date: float | None = None) -> dict[str, Any]:
    """lm-eval's aggregated results dict for one run, from its metrics.json content."""
    results, configs, versions, n_shot, higher, n_samples = {}, {}, {}, {}, {}, {}
    for name, metrics in sorted((record.get("tasks") or {}).items()):
        if metrics.get("status", "ok") != "ok":
            continue
        results[name], configs[name], higher[name] = task_results(name, metrics)
        configs[name]["generation_kwargs"] = generation
        versions[name] = metrics.get("task_version")
        n_shot[name] = metrics.get("n_shot") or 0
        n_samples[name] = {"original": metrics.get("n", 0), "effective": metrics.get("n", 0)}
    provenance = provenance or {}
    return {
        "results": results,
        "group_subtasks": {name: [] for name in results},
        "configs": configs,
        "versions": versions,
        "n-shot": n_shot,
        "higher_is_better": higher,
        "n-samples": n_samples,
        "config": {
            "model": "ft-harness",
            "model_args": f"track={record.get('track')},submission={record.get('submission')},seed={record.get('seed')}"
                          + (f",point={record['point']}" if record.get("point") is not None else ""),
            "batch_size": None,
            "limit": None,
            "gen_kwargs": generation,
            "random_seed": record.get("seed"),
        },
        "git_hash": (provenance.get("git_commit") or "")[:7] or None,
        "date": date if date is not None else datetime.now(UTC).timestamp(),
        "transformers_version": (provenance.get("packages") or {}).get("transformers"),
        "harness": {key: record.get(key) for key in
                    ("track", "track_version", "submission", "method", "seed", "point", "status", "domain", "general")},
    }


def sample_records(samples: list[dict[str, Any]], metric: str, generation: dict[str, Any]) -> list[dict[str, Any]]:
    """The harness's per-sample records of one task (one per completion) as lm-eval's per-document records."""
    by_item: dict[int, list[dict[str, Any]]] = {}
    for s in samples:
        by_item.setdefault(s["item"], []).append(s)
    records = []
    for item, group in sorted(by_item.items()):
        group.sort(key=lambda s: s["sample"])
        first = group[0]
        doc = {"prompt": first["prompt"], "answer": first["reference"]}
        target = first["reference"]
        value = sum(bool(s["correct"]) for s in group) / len(group)
        records.append({
            "doc_id": item,
            "doc": doc,
            "target": target,
            "arguments": {"gen_args_0": {"arg_0": first["prompt"], "arg_1": generation}},
            "resps": [[s["completion"] for s in group]],
            "filtered_resps": [s["extracted"] for s in group],
            "filter": FILTER,
            "metrics": [metric],
            "doc_hash": _hash(doc),
            "prompt_hash": _hash(first["prompt"]),
            "target_hash": _hash(target),
            metric: value,
            "finish_reasons": [s["finish_reason"] for s in group],
            "lengths": [s["length"] for s in group],
        })
    return records


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_run_output(run_dir: Path, record: dict[str, Any], generation: dict[str, Any],
                     provenance: dict[str, Any] | None = None) -> Path:
    """The lm-eval-shaped files of a finished run folder, from what it holds: metrics.json's content (`record`),
    the harness's samples/<task>.jsonl and lm-eval's own output of the general suite."""
    samples, lm_eval_samples = {}, {}
    for name, metrics in (record.get("tasks") or {}).items():
        if metrics.get("source") == "lm-eval":
            lm_eval_samples[name] = sorted((run_dir / OUTPUT_DIR / name).glob("samples_*.jsonl"))
        elif (run_dir / "samples" / f"{name}.jsonl").is_file():
            samples[name] = read_jsonl(run_dir / "samples" / f"{name}.jsonl")
    return write_lm_eval_output(run_dir, record, samples, generation, provenance, lm_eval_samples)


def write_lm_eval_output(out: Path, record: dict[str, Any], samples: dict[str, list[dict[str, Any]]],
                         generation: dict[str, Any], provenance: dict[str, Any] | None = None,
                         lm_eval_samples: dict[str, list[Path]] | None = None) -> Path:
    """Write `out/lm-eval/results_<ts>.json` and a samples file per task; returns the results file.

    `samples`: the harness's own per-sample records per task; `lm_eval_samples`: per general-suite task, the
    per-sample files lm-eval itself wrote (copied unchanged). Earlier files of a redone run are replaced."""
    folder = out / FOLDER
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    stamp = timestamp()
    document = results_document(record, generation, provenance)
    for name, task_samples in sorted(samples.items()):
        if name in document["results"] and task_samples:
            metric, _ = split_metric(record["tasks"][name].get("metric") or "score")
            atomic_write_jsonl(folder / f"samples_{name}_{stamp}.jsonl", sample_records(task_samples, metric, generation))
    for name, files in sorted((lm_eval_samples or {}).items()):
        for path in files:  # lm-eval's own records of each leaf task, as lm-eval wrote them
            leaf = path.name.removeprefix("samples_").removesuffix(".jsonl")
            shutil.copyfile(path, folder / f"samples_{leaf}_{stamp}.jsonl")
    results = folder / f"results_{stamp}.json"
    atomic_write_json(results, document)
    return results
