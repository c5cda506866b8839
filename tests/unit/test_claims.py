"""Claims in study files: the schema and its located errors, the verdict rule, the pure scorer on hand-made
records, and the commands that decide claims from a runs directory (`harness reproductions`, `harness validate`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.claims import CONTRADICTED, INCONCLUSIVE, NOT_RUN, REPRODUCED, evaluate_claims, verdict
from harness.cli import main
from harness.config import load_track, track_version
from harness.errors import ConfigError
from harness.schemas.studies import Claim
from harness.scoring import score_track
from harness.study import load_study

REPO = Path(__file__).resolve().parents[2]


def items(k: int, n: int = 200, seed: int = 0) -> list[float]:
    return np.random.default_rng(seed).permutation([1.0] * k + [0.0] * (n - k)).tolist()


def record(submission: str, domain: list[float], general: list[float], *, seed: int = 0, track: str = "t",
           version: str = "v1", status: str = "ok", point: str | None = None) -> dict:
    tasks = {name: {"role": role, "score": 100 * float(np.mean(s)), "metric": "avg@1", "n": len(s), "item_scores": s}
             for name, role, s in (("dom", "domain", domain), ("gen", "general", general)) if status == "ok"}
    return {"schema": 1, "track": track, "track_version": version, "submission": submission, "seed": seed,
            "status": status, "point": point, "tasks": tasks, "wall_seconds": {"train": 10.0, "evaluate": 2.0},
            "budget": {"within_budget": True, "caps": {}, "used": {}}}


def claim(quantity: dict, claimed: str = "> 0", id: str = "c") -> Claim:
    return Claim(id=id, paper="004", statement="s", paper_result="p", protocol="x", quantity=quantity, claimed=claimed)


def decide(claims, records, **kw):
    return evaluate_claims(claims, records, "study", "t", {"t": "v1"}, n_boot=300, **kw)


# --- the rule ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("low, high, op, threshold, expected", [
    (0.5, 2.0, ">", 0, REPRODUCED), (-2.0, -0.5, ">", 0, CONTRADICTED), (-1.0, 1.0, ">", 0, INCONCLUSIVE),
    (0.0, 1.0, ">", 0, INCONCLUSIVE),   # touches the number: not entirely on the claimed side of "> 0"
    (-1.0, 0.0, ">", 0, CONTRADICTED),  # "<= 0" is the other side of "> 0"
    (0.0, 1.0, ">=", 0, REPRODUCED), (-1.0, -0.1, ">=", 0, CONTRADICTED),
    (0.91, 0.99, ">=", 0.9, REPRODUCED), (0.8, 0.95, ">=", 0.9, INCONCLUSIVE),
    (-3.0, -1.0, "<", 0, REPRODUCED), (1.0, 3.0, "<", 0, CONTRADICTED), (1.0, 3.0, "<=", 1, INCONCLUSIVE),
])
def test_the_verdict_is_where_the_interval_lies(low, high, op, threshold, expected):
    assert verdict(low, high, op, threshold) == expected


# --- the scorer on hand-made records ------------------------------------------------------------------------------

def test_changing_a_runs_item_scores_changes_the_verdict():
    """The done-when test of issue 14: the verdict comes from the runs. B keeps 20 more general items than A on
    the same test items (reproduced); give B's runs A's items with 20 right answers removed and the claim is
    contradicted; one seed better and one worse make it inconclusive (identical items would give the interval
    [0, 0], which lies on the other side of "> 0")."""
    general_a = items(100, seed=1)
    better = list(general_a)
    for i in [i for i, x in enumerate(general_a) if x == 0.0][:20]:
        better[i] = 1.0
    worse = list(general_a)
    for i in [i for i, x in enumerate(general_a) if x == 1.0][:20]:
        worse[i] = 0.0
    c = claim({"metric": "general", "entry": "b", "minus": "a"})
    runs_a = [record("a", items(150, seed=s), general_a, seed=s) for s in range(3)]

    def runs_b(*general):
        general = general * 3 if len(general) == 1 else general
        return [record("b", items(150, seed=s), general[s], seed=s) for s in range(3)]

    (kept,) = decide([c], runs_a + runs_b(better))
    assert kept.verdict == REPRODUCED and kept.estimate.value == pytest.approx(10.0) and kept.estimate.low > 0
    assert [e.entry for e in kept.entries] == ["b", "a"] and kept.entries[0].seeds == (0, 1, 2)
    (lost,) = decide([c], runs_a + runs_b(worse))
    assert lost.verdict == CONTRADICTED and lost.estimate.value == pytest.approx(-10.0) and lost.estimate.high < 0
    (mixed,) = decide([c], runs_a + runs_b(better, worse, general_a))
    assert mixed.verdict == INCONCLUSIVE and mixed.estimate.value == pytest.approx(0.0)
    assert mixed.estimate.low < 0 < mixed.estimate.high


def test_a_difference_matches_the_leaderboards_paired_delta_against_the_base():
    """Claims resample like the leaderboard: 'general(sft) - general(base)' is the row's general delta, interval too."""
    base = [record("base", items(30), items(180, seed=1))]
    sft = [record("sft", items(160 + s, seed=2 + s), items(120 + 5 * s, seed=5 + s), seed=s) for s in range(3)]
    (row,) = [r for r in score_track("t", base + sft, {"t": "v1"}).rows if r.submission == "sft"]
    (result,) = evaluate_claims([claim({"metric": "general", "entry": "sft", "minus": "base"})], base + sft, "s", "t",
                                {"t": "v1"})
    assert (result.estimate.value, result.estimate.low, result.estimate.high) == pytest.approx(
        (row.general_delta.value, row.general_delta.low, row.general_delta.high))


def test_a_ratio_gets_its_own_bootstrap_and_a_task_metric_reads_one_task():
    runs = [record("small", items(180, seed=s), items(100), seed=s) for s in range(3)]
    runs += [record("big", items(190, seed=10 + s), items(100), seed=s) for s in range(3)]
    ratio, task = decide([claim({"metric": "domain", "entry": "small", "over": "big"}, ">= 0.9", id="r"),
                          claim({"metric": "task:dom", "entry": "small"}, "> 50", id="t")], runs)
    assert ratio.estimate.value == pytest.approx(180 / 190)
    assert ratio.estimate.low < ratio.estimate.value < ratio.estimate.high < 1.05
    assert ratio.verdict == REPRODUCED
    assert task.estimate.value == pytest.approx(90.0) and task.verdict == REPRODUCED
    # a zero denominator leaves the ratio undefined: inconclusive, with the reason
    zero = [record("small", items(100), items(100)), record("big", items(0), items(100))]
    (undefined,) = decide([claim({"metric": "domain", "entry": "small", "over": "big"}, ">= 0.9")], zero)
    assert undefined.verdict == INCONCLUSIVE and undefined.estimate is None
    assert "big scores 0" in undefined.notes[0]


def test_only_valid_runs_of_the_studys_seeds_count_and_missing_entries_are_not_run():
    runs = [record("a", items(100), items(100), seed=s) for s in range(3)]
    runs += [record("b", items(150), items(150), seed=0), record("b", [], [], seed=1, status="failed"),
             record("b", items(0), items(0), seed=2, version="old"), record("b", items(0), items(0), seed=7)]
    c = claim({"metric": "domain", "entry": "b", "minus": "a"})
    (result,) = decide([c], runs, seeds=[0, 1, 2])
    assert result.verdict == REPRODUCED and result.entries[0].seeds == (0,)
    assert any("b seed 1 left out: status failed" in n for n in result.notes)
    assert any("b seed 2 left out: scored on track version old" in n for n in result.notes)
    (missing,) = decide([claim({"metric": "domain", "entry": "nobody", "minus": "a"})], runs)
    assert missing.verdict == NOT_RUN and missing.estimate is None and "nobody: no runs" in missing.notes
    (none_valid,) = decide([claim({"metric": "domain", "entry": "a"})],
                           [record("a", [], [], status="failed")])
    assert none_valid.verdict == NOT_RUN and "a: no valid run" in none_valid.notes


def test_a_point_of_an_entry_is_named_with_at():
    runs = [record("w", items(150), items(50), point="alpha=0.5"), record("w", items(190), items(10), point="alpha=1")]
    (result,) = decide([claim({"metric": "general", "entry": "w @ alpha=0.5", "minus": "w@alpha=1"})], runs)
    assert result.estimate.value == pytest.approx(20.0) and result.verdict == REPRODUCED


def test_a_curve_metric_reads_each_runs_curve_summary_and_resamples_seeds_only():
    def with_lead(submission, leads):
        runs = []
        for s, lead in enumerate(leads):
            r = record(submission, items(100, seed=s), items(100, seed=s), seed=s)
            r["curve_summary"] = {"chain_lead": lead}
            runs.append(r)
        return runs

    stepwise, together = with_lead("nt", [30.0, 25.0, 35.0]), with_lead("rl", [1.0, -2.0, 2.0])
    lead = claim({"metric": "curve:chain_lead", "entry": "nt", "minus": "rl"})
    (result,) = decide([lead], stepwise + together)
    assert result.estimate.value == pytest.approx(30.0 - 1 / 3) and result.verdict == REPRODUCED
    assert result.quantity == "curve:chain_lead(nt) - curve:chain_lead(rl)"
    # the runs' curves say otherwise: the verdict follows
    (flipped,) = decide([lead], with_lead("nt", [0.0, -3.0, 1.0]) + with_lead("rl", [20.0, 30.0, 25.0]))
    assert flipped.verdict == CONTRADICTED
    # one seed: its value, no spread from items (a curve summary has none)
    (one,) = decide([claim({"metric": "curve:chain_lead", "entry": "rl"}, "< 10")], together[:1])
    assert (one.estimate.low, one.estimate.high) == (1.0, 1.0) and one.verdict == REPRODUCED
    # runs without a curve: not run, saying why
    (none,) = decide([claim({"metric": "curve:chain_lead", "entry": "a"})], [record("a", items(10), items(10))])
    assert none.verdict == NOT_RUN and "no curve:chain_lead score" in none.notes[0]


def test_a_claim_on_a_track_variant_reads_that_variants_runs():
    runs = [record("b", items(150, seed=s), items(50), seed=s, track="t.v1") for s in range(2)]
    runs += [record("b", items(20, seed=s), items(50), seed=s, track="t.v2") for s in range(2)]
    runs += [record("a", items(50, seed=s), items(50), seed=s, track=t) for s in range(2) for t in ("t.v1", "t.v2")]
    versions = {"t.v1": "v1", "t.v2": "v1"}
    q = {"metric": "domain", "entry": "b", "minus": "a"}
    up, down = (claim({**q, "track": t}, id=t.replace(".", "-")) for t in ("t.v1", "t.v2"))
    r1, r2 = evaluate_claims([up, down], runs, "study", "t", versions, n_boot=300)
    assert (r1.track, r1.verdict, r1.estimate.value) == ("t.v1", REPRODUCED, pytest.approx(50.0))
    assert (r2.track, r2.verdict, r2.estimate.value) == ("t.v2", CONTRADICTED, pytest.approx(-15.0))
    assert r1.quantity == "domain(b) - domain(a) on t.v1"


VARIANT_STUDY = """name: v
track: tiny-parity-rare
seeds: [0]
curve_every: CURVE
track_variants:
  - {name: short, set: {base_model.pretrain.steps: 100}}
submissions:
  - submissions/baselines/base.yaml
  - submissions/baselines/sft.yaml
claims:
  - {id: c1, paper: "002", statement: s, paper_result: p, protocol: x, quantity: QUANTITY, claimed: "> 0"}
"""


@pytest.mark.parametrize("quantity, curve, field, message", [
    ("{metric: domain, entry: sft, minus: base}", "5", "claims.0.quantity.track",
     "must name one: tiny-parity-rare.short"),
    ("{metric: domain, entry: sft, track: tiny-parity-rare.long}", "5", "claims.0.quantity.track", "'tiny-parity-rare.long'"),
    ("{metric: 'curve:chain_lead', entry: sft, track: tiny-parity-rare.short}", "null", "claims.0.quantity.metric",
     "set the study's curve_every"),
])
def test_variant_and_curve_claims_are_checked_against_the_study(tmp_path, quantity, curve, field, message):
    path = tmp_path / "v.yaml"
    path.write_text(VARIANT_STUDY.replace("QUANTITY", quantity).replace("CURVE", curve))
    with pytest.raises(ConfigError) as err:
        load_study(path)
    assert f"field '{field}'" in str(err.value) and message in str(err.value)
    path.write_text(VARIANT_STUDY.replace("QUANTITY", "{metric: 'curve:chain_lead', entry: sft, "
                                          "track: tiny-parity-rare.short}").replace("CURVE", "5"))
    assert load_study(path)[0].claims[0].quantity.track == "tiny-parity-rare.short"


# --- the schema: located errors -----------------------------------------------------------------------------------

STUDY = """name: s
track: tiny-arith
seeds: [0]
submissions:
  - submissions/baselines/base.yaml
  - submissions/baselines/sft.yaml
  - {name: w, method: wise-ft, description: "w", hyperparameters: {alphas: [0.5]}}
claims:
  - id: c1
    paper: "004"
    statement: "s"
    paper_result: "p"
    protocol: "x"
    quantity: QUANTITY
    claimed: CLAIMED
"""


def study_file(tmp_path: Path, quantity: str = "{metric: general, entry: sft, minus: base}", claimed: str = '"> 0"',
               extra: str = "") -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(STUDY.replace("QUANTITY", quantity).replace("CLAIMED", claimed) + extra)
    return path


def test_a_claim_naming_an_unknown_entry_is_refused_with_the_file_field_line_and_entries(tmp_path):
    path = study_file(tmp_path, "{metric: general, entry: talr, minus: sfft}")
    with pytest.raises(ConfigError) as err:
        load_study(path)
    text = str(err.value)
    assert f"{path}:14: field 'claims.0.quantity.entry'" in text and "'talr' is not an entry of study s" in text
    assert "field 'claims.0.quantity.minus'" in text and "'sfft'" in text
    assert "the study's entries: base, sft, w" in text
    study, _, _ = load_study(study_file(tmp_path, "{metric: general, entry: w @ alpha=0.5, over: base}", '">= 0.9"'))
    assert study.claims[0].quantity.kind == "ratio" and study.claims[0].side == (">=", 0.9)


@pytest.mark.parametrize("quantity, claimed, field, message", [
    ("{metric: general, entry: sft}", '"= 0"', "claims.0.claimed", "OP NUMBER"),
    ("{metric: general, entry: sft}", '"> lots"', "claims.0.claimed", "OP NUMBER"),
    ("{metric: accuracy, entry: sft}", '"> 0"', "claims.0.quantity.metric", "task:NAME"),
    ("{metric: general, entry: sft, minus: base, over: base}", '"> 0"', "claims.0.quantity", "at most one"),
    ("{metric: general, entry: sft, times: base}", '"> 0"', "claims.0.quantity.times", "unknown field"),
])
def test_malformed_claims_are_refused_naming_the_field(tmp_path, quantity, claimed, field, message):
    path = study_file(tmp_path, quantity, claimed)
    with pytest.raises(ConfigError) as err:
        load_study(path)
    assert str(path) in str(err.value) and f"field '{field}'" in str(err.value) and message in str(err.value)


def test_claim_ids_are_unique_and_the_paper_is_a_number(tmp_path):
    twice = STUDY.split("claims:")[1].replace("QUANTITY", "{metric: general, entry: sft}").replace("CLAIMED", '"> 0"')
    path = study_file(tmp_path, extra=twice.replace("\nclaims:", ""))
    with pytest.raises(ConfigError, match="claim ids must be unique in a study; repeated: c1"):
        load_study(path)
    path.write_text(path.read_text().replace('paper: "004"', "paper: four", 1))
    with pytest.raises(ConfigError, match="claims.0.paper"):
        load_study(path)


# --- the commands ------------------------------------------------------------------------------------------------

def write_runs(runs_dir: Path, records: list[dict]) -> None:
    for rec in records:
        run = runs_dir / rec["track"] / rec["submission"] / f"seed{rec['seed']}"
        run.mkdir(parents=True, exist_ok=True)
        (run / "metrics.json").write_text(json.dumps(rec))


def test_reproductions_decides_a_studys_claims_from_the_runs_dir_and_follows_its_scores(tmp_path, capsys):
    """End to end through files: runs in a runs directory, a study file with a claim; rewriting one run's per-item
    scores in its metrics.json flips the verdict that `harness reproductions` prints and writes."""
    version = track_version(load_track("tiny-arith"))
    study = study_file(tmp_path)
    runs = tmp_path / "runs"
    write_runs(runs, [record("base", items(30), items(190), track="tiny-arith", version=version),
                      record("sft", items(190), items(20, seed=3), track="tiny-arith", version=version)])
    out = tmp_path / "repro.md"
    argv = ["reproductions", "--runs-dir", str(runs), "--study", str(study), "--markdown", str(out)]
    assert main(argv) == 0
    assert "contradicted" in capsys.readouterr().out
    text = out.read_text()
    assert "| 004 | [c1](#s-c1) | s (tiny-arith) | general(sft) - general(base) &gt; 0 | -85.0 [" in text
    assert "| 000 |" in text and "not run" in text  # the repository's studies without runs here: listed, undecided
    metrics = runs / "tiny-arith" / "sft" / "seed0" / "metrics.json"
    rec = json.loads(metrics.read_text())
    rec["tasks"]["gen"]["item_scores"] = [1.0] * 200
    rec["tasks"]["gen"]["score"] = 100.0
    metrics.write_text(json.dumps(rec))
    assert main(argv) == 0
    assert "reproduced" in capsys.readouterr().out
    assert "| 004 | [c1](#s-c1) | s (tiny-arith) | general(sft) - general(base) &gt; 0 | +5.0 [" in out.read_text()


def test_the_site_has_a_reproductions_page_linked_from_every_page(tmp_path):
    from harness.claims import study_claims
    from harness.render.site import build_site

    recs = [record("base", items(30), items(190)), record("sft", items(190), items(20))]
    evil = claim({"metric": "general", "entry": "sft", "minus": "base"}, "< 0", id="forgets")
    evil = evil.model_copy(update={"statement": "=cmd|' /C calc'!A0 <script>alert(1)</script>"})
    decided = study_claims("s", "submissions/studies/s.yaml", "t", [
        evil,
        claim({"metric": "general", "entry": "talr", "minus": "sft"}, id="talr")], [0], ["base", "sft", "talr"],
        recs, {"t": "v1"})
    assert decided.n_runs == 2 and decided.run_seconds == pytest.approx(24.0)
    build_site(recs, tmp_path, {"t": "v1"}, generated_at="x", reproductions=[decided])
    page = (tmp_path / "reproductions.html").read_text()
    assert "reproduced" in page and "not run" in page and "Run: harness study submissions/studies/s.yaml" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page  # claim text is escaped
    assert "'=cmd" in (tmp_path / "reproductions.csv").read_text()  # and cannot start a spreadsheet formula
    for paper in ("000", "001", "002", "003"):
        assert f"<td class=\"text\" data-sort=\"{paper}\">{paper}" in page  # every paper has a row
    rows = json.loads((tmp_path / "reproductions.json").read_text())["rows"]
    assert [(r["paper"], r["verdict"]) for r in rows if r["paper"] == "004"] == [("004", "reproduced"),
                                                                                 ("004", "not run")]
    assert (tmp_path / "reproductions.md").is_file() and (tmp_path / "reproductions.csv").is_file()
    claims = json.loads((tmp_path / "reproductions.claims.json").read_text())
    assert claims[0]["claims"][0]["verdict"] == "reproduced" and claims[0]["claims"][0]["ci"][1] < 0
    for html in tmp_path.rglob("*.html"):
        assert 'reproductions.html">Reproductions</a>' in html.read_text(), html


def test_validate_recognises_a_study_file(tmp_path, capsys):
    assert main(["validate", str(study_file(tmp_path))]) == 0
    assert "study 's', 3 entries on track tiny-arith, 1 claims" in " ".join(capsys.readouterr().out.split())
    bad = study_file(tmp_path, "{metric: general, entry: sft, minus: nobody}")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "claims.0.quantity.minus" in err and "a submission cannot set it" not in err
    assert main(["validate", str(REPO / "submissions" / "studies" / "forgetting.yaml")]) == 0
    assert main(["validate", str(REPO / "submissions" / "baselines" / "sft.yaml")]) == 0  # submissions as before


@pytest.mark.parametrize("name", ["forgetting", "forgetting-smollm2", "parity-rl"])
def test_shipped_studies_state_their_papers_claims(name):
    study, _, _ = load_study(REPO / "submissions" / "studies" / f"{name}.yaml")
    papers = {c.paper for c in study.claims}
    assert papers == ({"002"} if name == "parity-rl" else {"004"})
    if name.startswith("forgetting"):
        assert {"small-lr-keeps-general", "talr-keeps-more-general"} <= {c.id for c in study.claims}
