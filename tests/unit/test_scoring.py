"""The scorer on hand-made run records: means, deltas, intervals, frontier, ranks, ties, invalid runs."""

import numpy as np
import pytest

from harness.scoring import RANK_RULE, score_runs

VERSIONS = {"t": "v1"}


def items(k: int, n: int = 100, seed: int = 0) -> list[float]:
    """Exactly k of n items correct, in an order fixed by seed (so different entries do not align)."""
    return np.random.default_rng(seed).permutation([1.0] * k + [0.0] * (n - k)).tolist()


def task(role: str, item_scores: list[float]) -> dict:
    return {"role": role, "score": 100 * float(np.mean(item_scores)), "metric": "avg@1",
            "n": len(item_scores), "k": 1, "item_scores": item_scores}


def record(submission: str, domain: list[float], general: list[float] | None = None, *, seed: int = 0,
           track: str = "t", version: str = "v1", status: str = "ok", within_budget: bool = True,
           point: str | None = None) -> dict:
    tasks = {"dom": task("domain", domain)}
    if general is not None:
        tasks["gen"] = task("general", general)
    return {
        "schema": 1, "track": track, "track_version": version, "submission": submission,
        "description": f"{submission} run", "method": submission, "hyperparameters": {"learning_rate": 1e-5},
        "seed": seed, "status": status, "error": "boom" if status == "failed" else None, "point": point,
        "tasks": tasks if status != "failed" else {},
        "budget": {"caps": {"gradient_tokens": 1000}, "within_budget": within_budget,
                   "used": {"gradient_tokens": 900 if within_budget else 1200}},
    }


def rows_by_label(records, versions=VERSIONS, **kw):
    (track,) = score_runs(records, versions, **kw).tracks
    return track, {row.label: row for row in track.rows}


def test_scores_are_seed_means_and_deltas_are_against_base():
    track, rows = rows_by_label([
        record("base", items(50), items(80, seed=1)),
        record("sft", items(60, seed=2), items(70, seed=3), seed=0),
        record("sft", items(70, seed=4), items(70, seed=5), seed=1),
    ])
    sft = rows["sft"]
    assert sft.seeds == (0, 1)
    assert sft.domain.value == pytest.approx(65.0)
    assert sft.general.value == pytest.approx(70.0)
    assert sft.domain_delta.value == pytest.approx(15.0)
    assert sft.general_delta.value == pytest.approx(-10.0)
    assert sft.total_delta.value == pytest.approx(5.0)
    assert sft.domain.low < 65.0 < sft.domain.high
    assert rows["base"].is_base and rows["base"].total_delta.value == 0.0
    assert [t.task for t in sft.tasks] == ["dom", "gen"]
    assert track.base == "base" and track.notes == ()


def test_frontier_holds_the_undominated_valid_entries():
    _, rows = rows_by_label([
        record("base", items(40), items(70)),
        record("domain-heavy", items(80, seed=1), items(40, seed=2)),
        record("balanced", items(60, seed=3), items(60, seed=4)),
        record("dominated", items(50, seed=5), items(50, seed=6)),
        record("cheater", items(95, seed=7), items(95, seed=8), within_budget=False),
    ])
    assert {label for label, row in rows.items() if row.frontier} == {"base", "domain-heavy", "balanced"}


@pytest.mark.parametrize("bad, reason", [
    (dict(status="failed"), "status failed: boom"),
    (dict(within_budget=False), "over budget (gradient_tokens 1200 > cap 1000)"),
    (dict(version="v0"), "scored on track version v0, current is v1"),
])
def test_an_invalid_seed_makes_its_entry_invalid_with_the_reason(bad, reason):
    _, rows = rows_by_label([
        record("base", items(40), items(70)),
        record("sft", items(90, seed=1), items(90, seed=2), seed=0),
        record("sft", items(90, seed=3), items(90, seed=4), seed=1, **bad),
    ])
    sft = rows["sft"]
    assert not sft.valid
    assert sft.invalid_reason == f"seed 1: {reason}"
    assert sft.rank is None and sft.tie_group is None and not sft.frontier
    assert rows["base"].rank == 1 and rows["base"].frontier
    assert [run.invalid_reason for run in sft.runs] == [None, reason]


def test_a_track_that_is_not_current_is_invalid():
    _, rows = rows_by_label([record("base", items(40), track="gone")], versions={})
    assert rows["base"].invalid_reason == "seed 0: track 'gone' is not defined any more"


def test_ranks_follow_total_gain_and_overlapping_intervals_tie():
    n = 400
    track, rows = rows_by_label([
        record("base", items(200, n), items(200, n, seed=1)),
        record("big", items(320, n, seed=2), items(200, n, seed=3)),          # S = +30
        record("big-too", items(310, n, seed=4), items(205, n, seed=5)),      # S = +28.75
        record("harmful", items(120, n, seed=6), items(160, n, seed=7)),      # S = -30
        record("over", items(400, n, seed=8), items(400, n, seed=9), within_budget=False),
    ])
    assert [(r.label, r.rank, r.tie_group, r.tie_size) for r in track.rows] == [
        ("big", 1, 1, 2), ("big-too", 1, 1, 2), ("base", 3, 2, 1), ("harmful", 4, 3, 1), ("over", None, None, 0),
    ]
    # The rule as written: members overlap their group's first entry, the next group's first does not.
    big, big_too, base, harmful = track.rows[:4]
    assert big_too.total_delta.overlaps(big.total_delta)
    assert not base.total_delta.overlaps(big.total_delta)
    assert not harmful.total_delta.overlaps(base.total_delta)


def test_identical_entries_tie_and_share_a_rank():
    same = dict(domain=items(70, seed=2), general=items(70, seed=3))
    track, _ = rows_by_label([record("base", items(50), items(50, seed=1)),
                              record("a", **same), record("b", **same)])
    assert [(r.label, r.rank, r.tie_size) for r in track.rows][:2] == [("a", 1, 2), ("b", 1, 2)]


def test_without_a_base_there_are_no_deltas_and_no_ranks():
    track, rows = rows_by_label([record("sft", items(60)), record("dft", items(70, seed=1))])
    assert all(r.rank is None and r.domain_delta is None for r in rows.values())
    assert [r.label for r in track.rows] == ["dft", "sft"]
    assert "No base entry" in track.notes[0]
    assert rows["dft"].frontier and not rows["sft"].frontier


def test_an_invalid_base_entry_is_marked_but_gives_no_deltas():
    track, rows = rows_by_label([record("base", items(50), version="v0"), record("sft", items(60, seed=1))])
    assert rows["base"].is_base and not rows["base"].valid
    assert rows["sft"].domain_delta is None and rows["sft"].rank is None
    assert track.base is None and "base entry is invalid" in track.notes[0]


def test_points_of_one_submission_are_separate_entries():
    _, rows = rows_by_label([record("base", items(50)),
                             record("wise-ft", items(60, seed=1), point="0.5"),
                             record("wise-ft", items(70, seed=2), point="1.0")])
    assert rows["wise-ft @ 0.5"].domain.value == pytest.approx(60.0)
    assert rows["wise-ft @ 1.0"].domain.value == pytest.approx(70.0)


def test_scoring_is_deterministic_and_entries_do_not_disturb_each_other():
    runs = [record("base", items(50), items(50, seed=1)), record("sft", items(60, seed=2), items(45, seed=3))]
    _, first = rows_by_label(runs)
    _, again = rows_by_label(list(reversed(runs)) + [record("dft", items(66, seed=4), items(48, seed=5))])

    def estimates(row):
        return row.domain, row.general, row.domain_delta, row.total_delta, row.tasks

    assert estimates(first["sft"]) == estimates(again["sft"])
    assert rows_by_label(runs) == rows_by_label(runs)


def test_intervals_cover_the_true_rate_about_95_percent_of_the_time():
    """Bernoulli items with known p: the score CI should cover 100p, the delta CI the true 0."""
    rng = np.random.default_rng(1234)
    p, n, trials = 0.3, 200, 100
    covered_score = covered_delta = 0
    for _ in range(trials):
        base = record("base", rng.binomial(1, p, n).astype(float).tolist())
        sft = record("sft", rng.binomial(1, p, n).astype(float).tolist())
        _, rows = rows_by_label([base, sft], n_boot=400)
        covered_score += rows["sft"].domain.low <= 100 * p <= rows["sft"].domain.high
        covered_delta += rows["sft"].domain_delta.low <= 0 <= rows["sft"].domain_delta.high
    assert covered_score >= 85 and covered_delta >= 85
    assert covered_score <= 100 and covered_delta < 100  # an interval that always covers is too wide


def test_rank_rule_is_stated():
    assert "tie group" in RANK_RULE and "Pareto frontier" in RANK_RULE
