"""The site builder and its exports on a small runs directory: determinism, escaping, contents."""

import base64
import csv
import hashlib
import io
import json
import re
from pathlib import Path

import markupsafe
import numpy as np
import pytest

from harness.render import export, load, tables
from harness.render.site import build_site, build_site_from_runs, slug, track_page
from harness.scoring import RANK_RULE, score_runs

EVIL = "<script>alert(1)</script>"
VERSIONS = {"t": "v1"}


def metrics(submission: str, p_domain: float, *, seed: int = 0, within_budget: bool = True,
            description: str = "plain") -> dict:
    rng = np.random.default_rng(seed + 10 * len(submission))
    dom = rng.binomial(1, p_domain, 60).astype(float).tolist()
    gen = rng.binomial(1, 0.7, 40).astype(float).tolist()
    return {
        "schema": 1, "track": "t", "track_version": "v1", "submission": submission, "description": description,
        "method": "sft", "hyperparameters": {"learning_rate": 1e-5}, "seed": seed, "status": "ok", "error": None,
        "point": None,
        "tasks": {"dom": {"role": "domain", "score": 100 * np.mean(dom), "metric": "avg@1", "n": 60, "k": 1,
                          "item_scores": dom, "mean_length": 3.0, "truncated": 0.0},
                  "gen": {"role": "general", "score": 100 * np.mean(gen), "metric": "avg@1", "n": 40, "k": 1,
                          "item_scores": gen}},
        "budget": {"caps": {"gradient_tokens": 1000}, "used": {"gradient_tokens": 900 if within_budget else 1500},
                   "within_budget": within_budget, "stopped_by_cap": None},
    }


def write_run(runs_dir: Path, rec: dict, dir_name: str | None = None) -> Path:
    run = runs_dir / rec["track"] / (dir_name or rec["submission"]) / f"seed{rec['seed']}"
    (run / "samples").mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps(rec))
    (run / "config.json").write_text(json.dumps({"submission": {"name": rec["submission"]}, "seed": rec["seed"]}))
    (run / "provenance.json").write_text(json.dumps({"git_commit": "abc123", "torch_threads": 2}))
    (run / "ledger.json").write_text(json.dumps({"gradient_tokens": 900}))
    samples = [{"item": i, "sample": 0, "prompt": f"q{i} {EVIL}", "reference": "1", "completion": f"answer {i} </pre>",
                "extracted": "0" if i % 3 == 0 else "1", "correct": i % 3 != 0, "length": 3, "finish_reason": "eos"}
               for i in range(30)]
    (run / "samples" / "dom.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    return run


@pytest.fixture
def runs_dir(tmp_path):
    runs = tmp_path / "runs"
    write_run(runs, metrics("base", 0.3))
    write_run(runs, metrics("sft", 0.6))
    write_run(runs, metrics("sft", 0.65, seed=1))
    write_run(runs, metrics(EVIL, 0.5, description="a </script> & b"), dir_name="evil")
    write_run(runs, metrics("=cmd|' /C calc'!A0", 0.9, within_budget=False), dir_name="greedy")
    (runs / "t" / "sft" / "seed2").mkdir()  # an unfinished run: no metrics.json yet
    return runs


@pytest.fixture
def site(runs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")
    index = build_site_from_runs(runs_dir, tmp_path / "site", VERSIONS)
    return index.parent


def read_all(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_load_records_reads_finished_runs_only(runs_dir):
    records = load.load_records(runs_dir)
    assert sorted((r.submission, r.seed) for r in records) == sorted(
        [("base", 0), ("sft", 0), ("sft", 1), (EVIL, 0), ("=cmd|' /C calc'!A0", 0)])
    assert all(Path(r.run_dir, "metrics.json").is_file() for r in records)
    samples = load.load_samples(runs_dir / "t" / "base" / "seed0", per_outcome=4)
    # Items 0, 3, 6, 9 are wrong: four of each are kept, items 7 and 8 (correct, over quota) are skipped.
    assert [s["item"] for s in samples["dom"]] == [0, 1, 2, 3, 4, 5, 6, 9]


def test_rebuilding_gives_byte_identical_files(site, runs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")
    again = build_site_from_runs(runs_dir, tmp_path / "again", VERSIONS).parent
    first, second = read_all(site), read_all(again)
    assert first == second
    assert {"index.html", "track-t.html", "leaderboard.json", "track-t.leaderboard.csv", "track-t.tasks.md",
            "runs/t/sft/seed1.html"} <= set(first)
    assert b"1970-01-02 00:00 UTC" in first["index.html"]


def test_untrusted_text_is_escaped_everywhere(site):
    pages = {name: data.decode() for name, data in read_all(site).items() if name.endswith(".html")}
    assert len(pages) == 3 + 5  # index, reproductions, one track, five runs
    for name, html in pages.items():
        assert html.count("<script") == 1, name  # only the sort script
        assert EVIL not in html and "</script> & b" not in html, name
    track = pages["track-t.html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in track
    svg = track[track.index("<svg"):track.index("</svg>")]
    assert "alert" not in svg and "script" not in svg
    run_page = pages[f"runs/t/{slug(EVIL)}/seed0.html"]
    assert "answer 1 &lt;/pre&gt;" in run_page  # completions are escaped too


def test_only_the_sort_script_may_run(site):
    html = (site / "track-t.html").read_text()
    script = re.search(r"<script>(.*?)</script>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in html


def test_track_page_states_the_rank_rule_and_why_entries_are_invalid(site):
    html = (site / "track-t.html").read_text()
    assert str(markupsafe.escape(RANK_RULE)) in html
    invalid = html[html.index('id="invalid-entries"'):]
    assert "over budget (gradient_tokens 1500 &gt; cap 1000)" in invalid.split("</ul>")[0]
    assert 'href="runs/t/sft/seed1.html"' in html
    assert 'href="track-t.leaderboard.csv"' in html


def test_run_page_shows_config_provenance_ledger_and_samples(site):
    html = (site / "runs" / "t" / "sft" / "seed1.html").read_text()
    for expected in ("abc123", "torch_threads", "&#34;seed&#34;: 1", "correct (20 shown)", "wrong (10 shown)",
                     "q1 &lt;script&gt;", 'href="../../../track-t.html"'):
        assert expected in html, expected


def test_csv_keeps_intervals_and_defuses_formulas(site):
    rows = list(csv.DictReader(io.StringIO((site / "track-t.leaderboard.csv").read_text())))
    greedy = next(r for r in rows if "calc" in r["submission"])
    assert greedy["submission"] == "'=cmd|' /C calc'!A0" and greedy["status"] == "invalid"
    sft = next(r for r in rows if r["submission"] == "sft")
    assert float(sft["domain_low"]) < float(sft["domain"]) < float(sft["domain_high"])
    assert sft["seeds"] == "[0, 1]"


def test_markdown_and_json_exports_are_views_of_the_same_table():
    board = score_runs([metrics("base", 0.3), metrics(EVIL, 0.5, description="x | y")], VERSIONS)
    table = tables.leaderboard_table(board.tracks[0])
    md = export.table_to_markdown(table)
    assert EVIL not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md and "x \\| y" in md
    assert len(md.splitlines()) == 4 + len(table.rows)
    data = json.loads(export.table_to_json(table))
    assert [c["key"] for c in data["columns"]] == [h.key for h in table.header]
    assert data["rows"][0]["domain_ci"] == list(table.rows[0][4].ci)
    assert json.loads(export.leaderboard_to_json(board))["rank_rule"] == RANK_RULE


def test_a_site_builds_from_records_alone(tmp_path):
    index = build_site([metrics("sft", 0.5)], tmp_path, VERSIONS, generated_at="pinned")
    track = (tmp_path / "track-t.html").read_text()
    assert "No base entry" in track and "pinned" in index.read_text()
    assert "config.json not available" in (tmp_path / "runs" / "t" / "sft" / "seed0.html").read_text()


def test_training_curves_are_drawn_on_track_and_run_pages(tmp_path):
    from harness.render.plot import mean_curve

    runs = tmp_path / "runs"
    for seed, scores in ((0, [50.0, 60.0, 90.0]), (1, [50.0, 70.0, 80.0])):
        rec = metrics("grpo", 0.6, seed=seed)
        rec["curve"] = [{"step": 5 * i, "score": s, "mean_length": 2.0 + 10 * i} for i, s in enumerate(scores)]
        write_run(runs, rec)
    write_run(runs, metrics("base", 0.3))
    site = build_site_from_runs(runs, tmp_path / "site", VERSIONS).parent

    track = (site / track_page("t")).read_text()
    assert 'id="training-curves"' in track and track.count("<svg") == 2  # scatter + curves
    run_pages = sorted(p for p in site.rglob("*.html")
                       if p.name not in ("index.html", "reproductions.html", track_page("t")))
    with_curve = [p for p in run_pages if 'id="training-curve"' in p.read_text()]
    assert len(with_curve) == 2 and len(run_pages) == 3  # the base run has no curve
    # The track figure averages seeds step by step, over the steps every seed reached.
    assert mean_curve([[{"step": 0, "score": 50.0, "mean_length": 2.0}, {"step": 5, "score": 60.0, "mean_length": 4.0}],
                       [{"step": 0, "score": 70.0, "mean_length": 2.0}]]) == [{"step": 0, "score": 60.0, "mean_length": 2.0}]


def test_a_sweep_shows_as_one_entry_with_its_trials_and_every_trials_run_page(tmp_path):
    """Trials live under their entry's folder (harness/runs.py); the leaderboard ranks the chosen one only,
    and the track page, the run pages and leaderboard.json keep every trial inspectable."""
    runs = tmp_path / "runs"
    write_run(runs, metrics("base", 0.3))
    for index, (label, val) in enumerate((("learning_rate=0.0003", 0.9), ("learning_rate=0.001", 0.4))):
        rec = metrics("sw", 0.5 + 0.3 * index)  # the trial validation rejects has the better test score
        rec["trial"] = {"label": label, "index": index, "count": 2, "values": {"learning_rate": 3e-4 if index == 0 else 1e-3}}
        rec["validation"] = {"dom": {"role": "domain", "score": 100 * val, "n": 1, "split": "validation"}}
        write_run(runs, rec, dir_name=f"sw/trial-{label}")
    site = build_site_from_runs(runs, tmp_path / "site", VERSIONS).parent
    board = json.loads((site / "leaderboard.json").read_text())
    (sw,) = [r for r in board["tracks"][0]["rows"] if r["submission"] == "sw"]
    assert sw["selection"]["n_trials"] == 2 and sw["selection"]["chosen"]["label"] == "learning_rate=0.0003"
    assert [run["trial"] for run in sw["runs"]] == ["learning_rate=0.0003"] and sw["rank"] is not None
    track = (site / track_page("t")).read_text()
    assert "Sweeps" in track and "2 trials, chosen on validation: learning_rate=0.0003" in track
    assert "Test items never enter the choice" in track
    for label in ("learning_rate=0.0003", "learning_rate=0.001"):
        page = site / "trials" / "t" / "sw" / slug(label) / "seed0.html"
        assert page.is_file() and f'href="trials/t/sw/{slug(label)}/seed0.html"' in track
