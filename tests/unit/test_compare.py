"""compare on hand-made records: direction, pairing, agreement with the leaderboard, resolving sides, the CLI."""

import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from harness.compare import CompareError, print_comparison, compare, compare_to_json, render_compare_table, resolve_side
from harness.scoring import score_runs


def items(k: int, n: int = 400, seed: int = 0) -> list[float]:
    return np.random.default_rng(seed).permutation([1.0] * k + [0.0] * (n - k)).tolist()


def record(submission: str, domain: list[float], general: list[float], *, seed: int = 0, track: str = "t",
           status: str = "ok", baseline: bool | None = None) -> dict:
    tasks = {name: {"role": role, "score": 100 * float(np.mean(s)), "metric": "avg@1", "n": len(s), "item_scores": s}
             for name, role, s in (("dom", "domain", domain), ("gen", "general", general)) if status == "ok"}
    rec = {"schema": 1, "track": track, "track_version": "v1", "submission": submission, "seed": seed,
           "status": status, "point": None, "tasks": tasks,
           "budget": {"within_budget": True, "caps": {}, "used": {}}}
    if baseline is not None:
        rec["baseline"] = baseline
    return rec


def write_runs(runs_dir: Path, records: list[dict]) -> None:
    for rec in records:
        run = runs_dir / rec["track"] / rec["submission"] / f"seed{rec['seed']}"
        run.mkdir(parents=True)
        (run / "metrics.json").write_text(json.dumps(rec))


def by_name(result):
    return {row.name: row for row in result.rows}


def test_difference_is_b_minus_a_with_an_interval():
    a = [record("a", items(200), items(300, seed=1))]
    b = [record("b", items(280, seed=2), items(300, seed=3))]
    result = compare(a, b)
    rows = by_name(result)
    assert [row.name for row in result.rows] == ["dom", "gen", "domain", "general"]
    assert rows["dom"].diff == pytest.approx(20.0) and rows["dom"].a == pytest.approx(50.0)
    assert rows["dom"].significant and rows["dom"].low > 0
    assert rows["gen"].diff == pytest.approx(0.0) and not rows["gen"].significant
    assert result.direction == "b - a"


def test_pairing_detects_a_small_difference_on_the_same_items():
    """B fixes 6 of A's 400 wrong items and changes nothing else: +1.5 points, which unpaired
    intervals (about +-7 points wide here) could never call significant."""
    a_items = items(200)
    b_items = list(a_items)
    wrong = [i for i, x in enumerate(a_items) if x == 0.0][:6]
    for i in wrong:
        b_items[i] = 1.0
    row = by_name(compare([record("a", a_items, a_items)], [record("b", b_items, a_items)]))["dom"]
    assert row.diff == pytest.approx(1.5)
    assert 0 < row.low < row.high < 4


def test_against_the_base_it_agrees_with_the_leaderboard():
    base = [record("base", items(200), items(300, seed=1))]
    sft = [record("sft", items(260, seed=2 + s), items(280, seed=5 + s), seed=s) for s in range(3)]
    (track,) = score_runs(base + sft, {"t": "v1"}).tracks
    row = next(r for r in track.rows if r.submission == "sft")
    domain = by_name(compare(base, sft))["domain"]
    assert (domain.diff, domain.low, domain.high) == pytest.approx(
        (row.domain_delta.value, row.domain_delta.low, row.domain_delta.high))


def test_failed_seeds_are_left_out_with_a_note_and_mixed_sides_are_refused():
    a = [record("a", items(200), items(200)), record("a", [], [], seed=1, status="failed")]
    result = compare(a, [record("b", items(210), items(200))])
    assert result.seeds_a == (0,)
    assert "A seed 1: status failed, left out" in result.warnings
    with pytest.raises(CompareError, match="mixes several entries"):
        compare([record("a", items(1), items(1)), record("b", items(1), items(1))], a)


def test_rich_table_keeps_markup_in_names_literal():
    result = compare([record("[red]a[/red]", items(200), items(200))], [record("b", items(220), items(200))])
    console = Console(record=True, width=160)
    console.print(render_compare_table(result))
    assert "[red]a[/red]" in console.export_text()
    assert json.loads(compare_to_json(result))["rows"][0]["significant"] in (True, False)


@pytest.fixture
def runs_dir(tmp_path):
    write_runs(tmp_path, [
        record("base", items(200), items(300, seed=1)),
        record("sft", items(260, seed=2), items(280, seed=3)),
        record("sft", items(250, seed=4), items(290, seed=5), seed=1),
        record("marked", items(230, seed=6), items(300, seed=7), baseline=True),
        record("sft", items(100, seed=8), items(100, seed=9), track="other"),
        record("only-other", items(100, seed=8), items(100, seed=9), track="other"),
    ])
    return tmp_path


def test_sides_resolve_from_directories_and_names(runs_dir):
    assert len(resolve_side(str(runs_dir / "t" / "sft"), runs_dir, None)) == 2
    (one,) = resolve_side(str(runs_dir / "t" / "sft" / "seed1"), runs_dir, None)
    assert one.seed == 1 and one.run_dir == str(runs_dir / "t" / "sft" / "seed1")
    assert resolve_side("only-other", runs_dir, None)[0].track == "other"
    assert len(resolve_side("sft", runs_dir, "t")) == 2
    with pytest.raises(CompareError, match="several tracks.*--track"):
        resolve_side("sft", runs_dir, None)
    with pytest.raises(CompareError, match="no finished runs of 'nope'"):
        resolve_side("nope", runs_dir, None)


def test_cmd_compare_prints_a_table_or_json(runs_dir, capsys):
    assert print_comparison("base", "sft", runs_dir, "t", baselines=False, as_json=False) == 0
    out = capsys.readouterr().out
    assert "sft  minus  base" in out and "domain" in out

    assert print_comparison("base", "sft", runs_dir, "t", baselines=False, as_json=True) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["a"] == "base" and data["b"] == "sft" and data["rows"][-2]["name"] == "domain"


def test_cmd_compare_against_baselines(runs_dir, capsys):
    code = print_comparison("sft", None, runs_dir, "t", baselines=True, as_json=True, baseline_names=["base", "sft"])
    assert code == 0
    results = json.loads(capsys.readouterr().out)
    # A minus each baseline: named ones and those marked "baseline": true, never A itself.
    assert [(r["a"], r["b"]) for r in results] == [("base", "sft"), ("marked", "sft")]


def test_cmd_compare_reports_bad_arguments(runs_dir, capsys):
    assert print_comparison("sft", None, runs_dir, None, baselines=False, as_json=False) == 2
    assert "give either B or --baselines" in capsys.readouterr().err
    assert print_comparison("sft", "base", runs_dir, None, baselines=False, as_json=False) == 2
    assert "--track" in capsys.readouterr().err
