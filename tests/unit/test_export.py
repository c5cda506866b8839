"""Exports under hostile text: names and descriptions with line breaks, tabs, NUL and formula starts."""

import csv
import io
import json

import numpy as np
import pytest

from harness.render import export, tables
from harness.scoring import score_runs

FORMULA = ("=", "+", "-", "@", "\t", "\r")
HOSTILE_NAMES = ["=1+1", "a\r=1+1", "b\n@SUM(A1)", "c\r\n+2", "d\x00e\tf", "\t=tab", "e\u2028-3", "f\x1e=4", "g\u202eh"]
HOSTILE_DESCRIPTIONS = ["\r=1+1", "line\n=cmd|' /C calc'!A0", "tab\there\x00nul", "\x85-x", "plain"]


def record(submission: str, description: str, p: float, seed: int = 0) -> dict:
    rng = np.random.default_rng(len(submission) + seed)
    items = rng.binomial(1, p, 50).astype(float).tolist()
    return {"schema": 1, "track": "t", "track_version": "v1", "submission": submission, "description": description,
            "method": "sft", "hyperparameters": {"learning_rate": 1e-5}, "seed": seed, "status": "ok", "error": None,
            "point": None,
            "tasks": {"dom": {"role": "domain", "score": 100 * float(np.mean(items)), "metric": "avg@1", "n": 50,
                              "item_scores": items}},
            "budget": {"caps": {}, "used": {}, "within_budget": True, "stopped_by_cap": None}}


@pytest.fixture(scope="module")
def table():
    records = [record("base", "the base", 0.3)]
    records += [record(name, HOSTILE_DESCRIPTIONS[i % len(HOSTILE_DESCRIPTIONS)], 0.5)
                for i, name in enumerate(HOSTILE_NAMES)]
    (track,) = score_runs(records, {"t": "v1"}).tracks
    return tables.leaderboard_table(track)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 and c != "\n" or 0x7f <= ord(c) < 0xa0 or c in "\u2028\u2029\u202e" for c in text)


@pytest.mark.parametrize("text", HOSTILE_NAMES + HOSTILE_DESCRIPTIONS)
def test_neutralise_leaves_no_line_that_starts_a_formula_and_no_control_character(text):
    out = export.neutralise(text)
    assert not _has_control(out)
    assert out.splitlines() == out.split("\n")  # "\n" is the only line break left
    assert not any(line.startswith(FORMULA) for line in out.split("\n"))


def test_neutralise_keeps_plain_text_and_shows_what_it_escaped():
    assert export.neutralise("sft, lr 1e-5") == "sft, lr 1e-5"
    assert export.neutralise("\r=1+1") == "\n'=1+1"
    assert export.neutralise("a\x00b\tc") == "a\\x00b\\x09c"


def test_csv_has_no_formula_at_the_start_of_any_cell_or_line(table):
    text = export.table_to_csv(table)
    # A reader that splits rows at any line break (a bare "\r" included) still sees no formula.
    assert not any(line.startswith(FORMULA) for line in text.splitlines())
    assert "\x00" not in text and "\r" not in text and "\t" not in text
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 1 + len(table.rows)
    for row in rows:
        for cell in row:
            if _is_number(cell):
                continue  # "-4.0" is a number to a spreadsheet, not a formula
            assert not any(line.startswith(FORMULA) for line in cell.split("\n")), cell
    names = {row[2] for row in rows[1:]}
    assert "'=1+1" in names and "a\n'=1+1" in names and "d\\x00e\\x09f" in names


def test_markdown_has_no_control_characters_and_no_formula_cell(table):
    md = export.table_to_markdown(table)
    assert not _has_control(md)
    assert len(md.splitlines()) == 4 + len(table.rows)
    for line in md.splitlines()[4:]:
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        text_cells = [cells[2], cells[-1]]  # submission, description
        assert not any(c.startswith(FORMULA) for c in text_cells), line
    assert "d\\x00e f" in md and "'=1+1" in md  # a tab folds to a space like any whitespace


def test_json_strings_are_neutralised_and_numbers_stay_numbers(table):
    data = json.loads(export.table_to_json(table))

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for k, v in value.items():
                yield k
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)

    for s in strings(data):
        assert not _has_control(s) and not any(line.startswith(FORMULA) for line in s.split("\n")), s
    assert {row["submission"] for row in data["rows"]} >= {"'=1+1", "b\n'@SUM(A1)"}
    assert all(isinstance(row["domain"], float) for row in data["rows"])
