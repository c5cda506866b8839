"""Audit the graders on the benchmarks' own gold answers: a gold answer must grade as correct.

Run: harness audit-grader TASK, or python -m harness.grader_audit math500 gsm8k aime24 amc23 medcalc [--data-dir DIR]

Driven by the task YAMLs (tasks/NAME.yaml): a task's `kind` picks the audit (math or medcalc), its
`dataset` the gold reader, and its `test_data` the rows, from the data directory (--data-dir,
$HARNESS_DATA_DIR, shared/datasets beside the checkout) exactly as evaluation reads them.

Math: each gold answer, boxed, is graded against itself; where a dataset ships worked solutions
the full solution text is graded too (its last boxed answer is what a model's would be). Every
verdict is set beside the naive boxed-string match, and the cases where they differ are listed.
MedCalc: each row's ground truth, written as a model would (TALR tags or official JSON), is
graded by grade_medcalc.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from harness.graders.math import (
    GOLD_READERS,
    boxed_string_match,
    canonical_dataset,
    gold_answer_for,
    gold_parses,
    grade_math_batch,
    last_boxed,
)
from harness.graders.medcalc import grade_medcalc

AUDITED_KINDS = ("math", "medcalc")
"""Task kinds with a gold-answer audit."""

SOLUTION_FIELDS = {
    "math500": "solution",
    "aime2024": "solution",
    "minerva_math": "solution",
    "olympiadbench": "solution",
    "gsm8k": "answer",
}
"""Datasets whose rows carry a worked solution (OlympiadBench: a list; the first is used).

GSM8K's is its `answer` text, ending in a `#### N` line rather than a box."""

_ID_FIELDS = ("unique_id", "id", "idx", "Row Number")


def audited_task(task: str):
    """The task's config (tasks/TASK.yaml) when it has an audit; a ValueError naming the audited tasks otherwise."""
    from harness.config import load_task_config
    from harness.discovery import tasks_dir

    cfg = load_task_config(task)
    if cfg.kind not in AUDITED_KINDS:
        audited = sorted(p.stem for p in tasks_dir().glob("*.yaml")
                         if load_task_config(p.stem).kind in AUDITED_KINDS)
        raise ValueError(f"audit-grader covers math and medcalc tasks; {task!r} is {cfg.kind} "
                         f"(tasks/{task}.yaml). Audited tasks: {', '.join(audited)}")
    return cfg


def read_rows(data_dir: Path | None, task: str) -> list[dict]:
    """All test rows of a task (its YAML's `test_data`), as dicts, loaded as evaluation loads them.

    With data_dir, the task's `local` files under it (FileNotFoundError naming the missing ones);
    without, harness.data.load_rows (--data-dir / $HARNESS_DATA_DIR, else the hub). CSV columns
    (MedCalc-Bench) stay strings, as written: "0.20" keeps its digits, "N/A" stays text.
    """
    from harness.data import load_rows, read_files

    cfg = audited_task(task)
    if data_dir is None:
        return load_rows(cfg.test_data, f"task {cfg.name!r} (test)")
    if not cfg.test_data.local:
        raise FileNotFoundError(f"tasks/{task}.yaml: test_data names no local files to read from {data_dir}")
    files = [Path(data_dir) / rel for rel in cfg.test_data.local]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"{task}: missing {', '.join(missing)} (tasks/{task}.yaml test_data.local)")
    return read_files(files)


def audit_task(task: str, data_dir: Path | None = None, workers: int | None = None) -> AuditReport:
    """The audit a task's YAML calls for (its kind), on its test rows."""
    cfg = audited_task(task)
    rows = read_rows(data_dir, task)
    return audit_medcalc(rows) if cfg.kind == "medcalc" else audit_math(rows, cfg.dataset or cfg.name, workers)


# ---------------------------------------------------------------------------------------------
# Report types


@dataclass(frozen=True)
class AuditFailure:
    """One gold answer that did not grade as correct."""

    row_id: str
    gold: str
    extracted: str | None
    """What the grader extracted from the graded text (None: nothing)."""


@dataclass(frozen=True)
class Disagreement:
    """An item where math-verify and the naive boxed-string match disagree."""

    row_id: str
    check: str
    gold: str
    boxed: str | None
    """The last boxed content of the graded text."""
    math_verify: bool
    string_match: bool


@dataclass(frozen=True)
class AuditCheck:
    """One way of writing the gold answers, and how many graded as correct."""

    name: str
    description: str
    total: int
    passed: int
    failures: tuple[AuditFailure, ...]
    skipped: int = 0
    """Rows with nothing to grade for this check (a solution with no boxed answer)."""

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else float("nan")


@dataclass(frozen=True)
class AuditReport:
    dataset: str
    rows: int
    checks: tuple[AuditCheck, ...]
    disagreements: tuple[Disagreement, ...] = ()
    compared: int = 0
    """Items graded by both math-verify and the boxed-string match (0 for MedCalc)."""

    def check(self, name: str) -> AuditCheck:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"No check {name!r}; have {[c.name for c in self.checks]}")


def _row_id(row: dict, index: int) -> str:
    for field in _ID_FIELDS:
        if row.get(field) not in (None, ""):
            return str(row[field])
    return str(index)


# ---------------------------------------------------------------------------------------------
# Audits


def audit_math(rows: list[dict], dataset: str, workers: int | None = None) -> AuditReport:
    """Grade every gold answer of a math dataset against itself, and each boxed gold solution.

    Checks: "gold" (completion `\\boxed{gold}`; a row whose gold cannot be read fails it),
    "gold_parsed" (math-verify reads the gold as a value, not only as text) and, for datasets
    with solutions, "solution" (the solution text as the completion; rows whose solution has
    neither a box nor a `####` line are skipped). Every item with a box is also string-matched;
    differing verdicts become disagreements.
    """
    name = canonical_dataset(dataset)
    if name not in GOLD_READERS:
        gold_answer_for({}, name)  # raises the KeyError that lists the known datasets
    ids = [_row_id(row, i) for i, row in enumerate(rows)]
    golds: list[str | None] = []
    unreadable: list[AuditFailure] = []
    for rid, row in zip(ids, rows, strict=True):
        try:
            golds.append(gold_answer_for(row, name))
        except (KeyError, ValueError) as err:
            golds.append(None)
            unreadable.append(AuditFailure(row_id=rid, gold=f"unreadable gold: {err}", extracted=None))
    readable = [(rid, gold, row) for rid, gold, row in zip(ids, golds, rows, strict=True) if gold is not None]

    items: list[tuple[str, str, str, str]] = []  # (check, row id, completion, gold)
    items += [("gold", rid, "\\boxed{" + gold + "}", gold) for rid, gold, _ in readable]
    skipped = 0
    if name in SOLUTION_FIELDS:
        for rid, gold, row in readable:
            solution = row[SOLUTION_FIELDS[name]]
            if isinstance(solution, list):
                solution = solution[0] if solution else ""
            if last_boxed(solution) is None and "####" not in solution:
                skipped += 1
            else:
                items.append(("solution", rid, solution, gold))

    grades = grade_math_batch([c for _, _, c, _ in items], [g for *_, g in items], workers=workers)
    failed = {
        check: [
            AuditFailure(row_id=rid, gold=gold, extracted=grade.extracted)
            for (item_check, rid, _, gold), grade in zip(items, grades, strict=True)
            if item_check == check and not grade.correct
        ]
        for check in ("gold", "solution")
    }
    solutions = sum(check == "solution" for check, *_ in items)
    # The "gold" check passes even for a gold math-verify cannot parse (the strings are equal);
    # such a gold matches only a byte-identical answer, so it is flagged separately.
    unparsed = [AuditFailure(rid, gold, None) for rid, gold, _ in readable if not gold_parses(gold)]
    checks = [
        AuditCheck(
            "gold",
            "\\boxed{gold} graded against gold",
            total=len(rows),
            passed=len(rows) - len(unreadable) - len(failed["gold"]),
            failures=(*unreadable, *failed["gold"]),
        ),
        AuditCheck(
            "gold_parsed",
            "math-verify reads gold as a math value, not only as text",
            total=len(readable),
            passed=len(readable) - len(unparsed),
            failures=tuple(unparsed),
        ),
    ]
    if name in SOLUTION_FIELDS:
        checks.append(
            AuditCheck(
                "solution",
                "the gold solution text graded against gold",
                total=solutions,
                passed=solutions - len(failed["solution"]),
                failures=tuple(failed["solution"]),
                skipped=skipped,
            )
        )

    # The string match needs a box; GSM8K's "#### N" solutions have none and are not compared.
    string_verdicts = [
        boxed_string_match(c, g) if last_boxed(c) is not None else None for _, _, c, g in items
    ]
    disagreements = tuple(
        Disagreement(
            row_id=rid,
            check=check,
            gold=gold,
            boxed=last_boxed(completion),
            math_verify=grade.correct,
            string_match=matched,
        )
        for (check, rid, completion, gold), grade, matched in zip(items, grades, string_verdicts, strict=True)
        if matched is not None and grade.correct != matched
    )
    return AuditReport(
        dataset=name,
        rows=len(rows),
        checks=tuple(checks),
        disagreements=disagreements,
        compared=sum(matched is not None for matched in string_verdicts),
    )


def _medcalc_completions(truth: str) -> dict[str, str]:
    answer = json.dumps({"answer": truth})
    return {
        "talr": f"<think>\nThe calculation is done.\n</think>\n<answer>\n{answer}\n</answer>",
        "json": json.dumps({"step_by_step_thinking": "The calculation is done.", "answer": truth}),
    }


def audit_medcalc(rows: list[dict]) -> AuditReport:
    """Grade each row's ground truth, written as a model would, with grade_medcalc.

    Checks: "talr" (`<answer>{"answer": "<truth>"}</answer>` after a think block) and "json"
    (the official `{"step_by_step_thinking": ..., "answer": "<truth>"}`).
    """
    descriptions = {
        "talr": 'truth as <answer>{"answer": "<truth>"}</answer> after <think>',
        "json": 'truth as {"step_by_step_thinking": ..., "answer": "<truth>"}',
    }
    failures: dict[str, list[AuditFailure]] = {name: [] for name in descriptions}
    for i, row in enumerate(rows):
        truth = str(row["Ground Truth Answer"])
        for name, completion in _medcalc_completions(truth).items():
            grade = grade_medcalc(completion, row)
            if not grade.correct:
                failures[name].append(AuditFailure(_row_id(row, i), truth, grade.extracted))
    checks = tuple(
        AuditCheck(name, descriptions[name], len(rows), len(rows) - len(failed), tuple(failed))
        for name, failed in failures.items()
    )
    return AuditReport(dataset="medcalc_bench", rows=len(rows), checks=checks)


# ---------------------------------------------------------------------------------------------
# Rendering


def _short(text: str | None, width: int = 60) -> str:
    if text is None:
        return "(none)"
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render_audit(report: AuditReport, max_rows: int = 50):
    """A rich renderable: pass rates per check, then failures and disagreements (max_rows each)."""
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    summary = Table(title=f"Grader audit: {report.dataset} ({report.rows} rows)")
    for column in ("check", "passed", "total", "pass rate", "skipped", "what is graded"):
        summary.add_column(column)
    for check in report.checks:
        summary.add_row(
            check.name,
            str(check.passed),
            str(check.total),
            f"{check.pass_rate:.1%}" if check.total else "-",
            str(check.skipped),
            escape(check.description),
        )
    parts: list = [summary]

    for check in report.checks:
        if not check.failures:
            continue
        table = Table(title=f"{check.name}: {len(check.failures)} failures")
        for column in ("row", "gold", "extracted"):
            table.add_column(column, overflow="fold")
        for failure in check.failures[:max_rows]:
            table.add_row(
                escape(failure.row_id), escape(_short(failure.gold)), escape(_short(failure.extracted))
            )
        parts.append(table)
        if len(check.failures) > max_rows:
            parts.append(Text(f"... {len(check.failures) - max_rows} more failures"))

    if report.compared:
        table = Table(
            title=f"math-verify vs boxed-string match: {len(report.disagreements)} of "
            f"{report.compared} items disagree"
        )
        for column in ("row", "check", "gold", "last boxed", "math-verify", "string"):
            table.add_column(column, overflow="fold")
        for d in report.disagreements[:max_rows]:
            table.add_row(
                escape(d.row_id),
                d.check,
                escape(_short(d.gold, 40)),
                escape(_short(d.boxed, 40)),
                "correct" if d.math_verify else "wrong",
                "match" if d.string_match else "differs",
            )
        parts.append(table)
        if len(report.disagreements) > max_rows:
            parts.append(Text(f"... {len(report.disagreements) - max_rows} more disagreements"))
    return Group(*parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Audit the graders on the shared gold data.")
    parser.add_argument("tasks", nargs="+", help="task names (tasks/NAME.yaml), e.g. math500 gsm8k aime24 amc23 medcalc")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="default: $HARNESS_DATA_DIR or ../shared/datasets"
    )
    parser.add_argument("--max-rows", type=int, default=50, help="rows shown per failure/disagreement table")
    args = parser.parse_args(argv)

    from rich.console import Console

    console = Console()
    for task in args.tasks:
        console.print(render_audit(audit_task(task, args.data_dir), max_rows=args.max_rows))


if __name__ == "__main__":
    main()
