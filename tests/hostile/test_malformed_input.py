"""Every case of the malformed-input corpus (corpus.py) is refused before any work: exit status 2, a message naming
the file and the field (or, for a file that is not plain YAML, the file), no traceback, nothing written, within 2 s.

Submission cases run `harness validate FILE --track micro-track.yaml`, so checks that need the track (LoRA target
modules) run too; track cases validate a good submission against the bad track; study cases run `harness study`,
which must stop before its first run.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness import cli
from harness.cli import main
from harness.errors import ConfigError
from harness.schemas.names import NAME_RULE, check_name
from harness.submissions import parse_submissions
from tests.hostile.corpus import CASES, FIXTURES, Case, sub

ROOT = Path(__file__).resolve().parents[2]
GOOD = sub("")
SECONDS = 2.0


def _tree(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


def _refuse(case: Case, tmp_path: Path, monkeypatch, capsys) -> tuple[str, Path]:
    """Run the case in an empty folder; check exit 2, no traceback, nothing written, time. Returns (stderr, file)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    bad = work / f"{case.kind}.yaml"
    bad.write_bytes(case.content if isinstance(case.content, bytes) else case.content.encode("utf-8"))
    if case.kind == "submission":
        argv = ["validate", str(bad), "--track", str(FIXTURES / "micro-track.yaml")]
    elif case.kind == "track":
        good = work / "good.yaml"
        good.write_text(GOOD)
        argv = ["validate", str(good), "--track", str(bad)]
    else:
        argv = ["study", str(bad), "--runs-dir", str(work / "runs"), "--out", str(work / "site")]
    before = _tree(work)
    capsys.readouterr()
    t0 = time.perf_counter()
    rc = main(argv)
    elapsed = time.perf_counter() - t0
    out, err = capsys.readouterr()
    assert rc == 2, f"exit {rc}\n{out}\n{err}"
    assert "Traceback" not in out + err
    assert _tree(work) == before, "something was written"
    assert not (tmp_path / "cache").exists(), "the cache was touched"
    assert elapsed < SECONDS, f"{elapsed:.2f} s"
    return err, bad


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_corpus_is_refused_cleanly(case, tmp_path, monkeypatch, capsys):
    err, bad = _refuse(case, tmp_path, monkeypatch, capsys)
    assert str(bad) in err, err
    if case.field is not None:
        assert f"field '{case.field}" in err, err  # the field, or an item inside it (alphas.0)
    else:
        assert f"{bad}:" in err, err  # file:line


def test_the_corpus_covers_every_family_with_over_100_cases():
    families = {c.family for c in CASES}
    assert len(CASES) >= 100
    assert {"unreadable", "yaml-lies", "names", "numbers", "choices", "references", "tracks", "studies"} <= families


def test_name_refusals_state_the_rule(tmp_path, monkeypatch, capsys):
    case = next(c for c in CASES if c.id == "name-climb")
    err, _ = _refuse(case, tmp_path, monkeypatch, capsys)
    assert NAME_RULE in err


def test_a_user_error_prints_one_line_and_a_traceback_only_with_debug(tmp_path):
    """In a fresh process: a config mistake is one line without a traceback; an unexpected error is one line naming
    it, and --debug shows its traceback."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HARNESS_CACHE_DIR": str(tmp_path / "cache")}
    bad = tmp_path / "s.yaml"
    bad.write_text(sub("hyperparameters: {learning_rate: .inf}\n"))
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "harness.cli", "validate", str(bad)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - t0
    assert out.returncode == 2 and "Traceback" not in out.stderr and "hyperparameters.learning_rate" in out.stderr
    print(f"validate in a fresh process: {wall:.2f} s (interpreter start and imports included)")
    # A leaderboard over a runs folder that is a file: not a config mistake, so exit 1, one line, no traceback.
    runs = tmp_path / "runs"
    runs.write_text("not a folder")
    args = ["leaderboard", "--runs-dir", str(runs), "--out", str(tmp_path / "site")]
    out = subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode in (1, 2) and "Traceback" not in out.stderr, out.stderr
    if out.returncode == 1:
        assert "--debug" in out.stderr
        debug = subprocess.run([sys.executable, "-m", "harness.cli", "--debug", *args], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=300)
        assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_an_unexpected_error_is_one_line_and_its_traceback_needs_debug(monkeypatch, capsys):
    def boom(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "cmd_validate", boom)
    assert cli.entry(["validate", "x.yaml"]) == 1
    err = capsys.readouterr().err
    assert "error: RuntimeError: boom (rerun with --debug for the traceback)" in err and "Traceback" not in err
    with pytest.raises(RuntimeError, match="boom"):
        cli.entry(["--debug", "validate", "x.yaml"])
    with pytest.raises(RuntimeError, match="boom"):  # main() leaves unexpected errors to its caller
        main(["validate", "x.yaml"])


# ------------------------------------------------------------------------------------- generated inputs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=0, max_size=80))
@example("0.")  # a trailing dot: once valid, but its folder name was "0%2E"
def test_any_text_is_a_valid_name_or_refused_with_the_rule(name):
    try:
        (parsed,) = parse_submissions({"name": name, "method": "sft"}, "gen.yaml")
    except ConfigError as e:
        assert "field 'name'" in str(e) and (NAME_RULE in str(e))
        with pytest.raises(ValueError):
            check_name(name)
        return
    from harness.paths import path_component

    assert parsed.name == name and path_component(name) == name  # a valid name is its own folder name
    assert name.lower() != "base" and "/" not in name and ".." != name and len(name) <= 64


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.integers(-10, 10)),
       st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(1.0)))
def test_a_learning_rate_is_accepted_only_when_finite_and_in_range(rate, scale):
    data = {"name": "gen", "method": "sft", "hyperparameters": {"learning_rate": rate, "learning_rate_scale": scale}}
    ok = (not isinstance(rate, bool) and math.isfinite(rate) and math.isfinite(scale) and 0 < rate <= 1
          and 0 < scale <= 1000 and 0 < rate * scale <= 1)
    try:
        parse_submissions(data, "gen.yaml")
    except ConfigError as e:
        assert not ok, f"refused a valid rate {rate} x {scale}: {e}"
        assert "hyperparameters.learning_rate" in str(e)
        return
    assert ok, f"accepted {rate!r} x {scale!r}"
