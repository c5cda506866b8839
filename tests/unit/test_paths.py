"""Paths from untrusted names: injective, never outside their root (run folders, base-model cache, site pages)."""

import random
import re
from pathlib import Path

import pytest

from harness.paths import MAX_COMPONENT, path_component, path_under
from harness.record import RecordError
from harness.runs import check_owner, run_dir

def record(submission: str, track: str = "t") -> dict:
    return {"schema": 1, "track": track, "track_version": "v1", "submission": submission, "seed": 0, "status": "ok",
            "tasks": {"dom": {"role": "domain", "score": 50.0, "n": 2, "item_scores": [1.0, 0.0]}},
            "budget": {"caps": {}, "used": {}, "within_budget": True}}


HOSTILE = ["../../../../x", "..", ".", "a/b", "a\\b", "/etc/passwd", "~", "~root", "a\x00b", "a\nb", "%2F", "%", "@",
           "x@y", " ", ".hidden", "trailing.", "CON", "é", "e\u0301", "\u202e", "a" * 400, "💥" * 80, "wise-ft@alpha=0.5"]


def decode(component: str, escape: str = "%") -> str:
    """The inverse of path_component on short forms: proof that it is injective."""
    raw = re.sub(re.escape(escape) + "([0-9A-F]{2})", lambda m: f"\\x{m.group(1)}", component)
    data = bytearray()
    i = 0
    while i < len(raw):
        if raw.startswith("\\x", i):
            data.append(int(raw[i + 2:i + 4], 16))
            i += 4
        else:
            data += raw[i].encode()
            i += 1
    return data.decode("utf-8", "surrogatepass")


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("escape", ["%", "~"])
def test_a_component_is_one_plain_file_name(name, escape):
    component = path_component(name, escape)
    assert component not in ("", ".", "..") and not component.startswith(".")
    assert "/" not in component and "\\" not in component and "\x00" not in component
    assert re.fullmatch(r"[A-Za-z0-9_=.%~-]+", component)
    assert len(component) <= MAX_COMPONENT + 2 + 64
    if escape + escape not in component:
        assert decode(component, escape) == name


def test_plain_names_keep_their_folder():
    for name in ("sft", "tiny-parity", "sft-lr-small", "alpha=0.5", "wise-ft", "iw_sft", "l2", "v1.2"):
        assert path_component(name) == name


def test_different_names_never_share_a_component():
    rng = random.Random(0)
    alphabet = "aA_-.=/%~@ \x00\n\r\té💥"
    names = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(5000)}
    names |= set(HOSTILE) | {"a_b", "a%2Fb", "a" * 401, "a" * 399}
    for escape in ("%", "~"):
        components = {path_component(n, escape) for n in names}
        assert len(components) == len(names)
        # and not by case alone either (a case-insensitive file system), except for ASCII letter case
        folded = {path_component(n, escape).lower() for n in names if n == n.lower()}
        assert len(folded) == len({n for n in names if n == n.lower()})


def test_an_empty_name_is_refused():
    with pytest.raises(ValueError, match="non-empty"):
        path_component("")


@pytest.mark.parametrize("track", HOSTILE[:12])
@pytest.mark.parametrize("submission", ["../x", "a/b", "..", "sft"])
@pytest.mark.parametrize("point", [None, "../../p", "alpha=0.5"])
def test_run_folders_stay_under_the_runs_dir(tmp_path, track, submission, point):
    root = tmp_path / "runs"
    path = run_dir(root, track, submission, 3, point)
    assert path.resolve().is_relative_to(root.resolve())
    assert len(path.relative_to(root).parts) == 3 and path.name == "seed3"


def test_run_folders_are_injective_over_submission_and_point(tmp_path):
    folders = {
        run_dir(tmp_path, "t", "a/b", 0), run_dir(tmp_path, "t", "a_b", 0),
        run_dir(tmp_path, "t", "wise-ft", 0, "alpha=0.5"), run_dir(tmp_path, "t", "wise-ft@alpha=0.5", 0),
        run_dir(tmp_path, "t", "wise-ft@alpha", 0, "0.5"), run_dir(tmp_path, "t/x", "s", 0), run_dir(tmp_path, "t", "x/s", 0),
    }
    assert len(folders) == 7
    assert run_dir(tmp_path, "tiny-parity", "wise-ft", 0, "alpha=0.5") == tmp_path / "tiny-parity/wise-ft@alpha=0.5/seed0"


def test_path_under_stays_under_its_root(tmp_path):
    for name in HOSTILE:
        assert path_under(tmp_path, name, name).parent.parent == tmp_path


def test_a_folder_holding_another_entrys_record_is_refused(tmp_path):
    import json

    folder = run_dir(tmp_path, "tiny-parity", "a_b", 0)
    folder.mkdir(parents=True)
    # What the old naming left: "a/b" and "a_b" both went to the folder a_b.
    (folder / "metrics.json").write_text(json.dumps(record("a/b", track="tiny-parity")))
    with pytest.raises(RecordError, match="holds the run of .*'a/b'.*move that folder away"):
        check_owner(folder, "tiny-parity", "a_b")
    check_owner(folder, "tiny-parity", "a/b")  # its own entry: fine


def test_a_climbing_track_name_keeps_the_base_model_cache_in_place(micro_track, cache_dir):
    from harness.pretrain import base_model_dir

    hostile = micro_track.model_copy(update={"name": "../../../../x"})
    path = base_model_dir(hostile)
    assert path.parent == cache_dir / "base-models" and path.name.startswith("%2E.%2F")
    assert base_model_dir(micro_track).name.startswith("micro-")  # plain names keep their cache folder


def test_site_pages_of_hostile_names_stay_in_the_site(tmp_path):
    from harness.render.site import build_site

    records = [record(name) for name in ("../../../../x", "a/b", "a_b", "..", "base")]
    build_site(records, tmp_path / "site", {"t": "v1"}, generated_at="pinned")
    pages = [p for p in (tmp_path / "site").rglob("*.html")]
    assert all(p.resolve().is_relative_to((tmp_path / "site").resolve()) for p in pages)
    assert len([p for p in pages if p.name == "seed0.html"]) == 5
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob("*.html"))


def test_a_sweep_run_under_the_old_folder_naming_moves_to_its_new_folder(tmp_path):
    import json

    from harness.runs import adopt_legacy_run

    old = tmp_path / "t" / "sw_lr=0.1_" / "seed0"
    old.mkdir(parents=True)
    (old / "metrics.json").write_text(json.dumps(record("sw[lr=0.1]")))
    assert adopt_legacy_run(tmp_path, "t", "sw[lr=0.1]", 0) == tmp_path / "t" / "sw%5Blr=0.1%5D" / "seed0"
    assert (tmp_path / "t" / "sw%5Blr=0.1%5D" / "seed0" / "metrics.json").is_file() and not old.exists()
    # Another entry's old folder is never taken: "x(y)" and "x[y]" had the same old folder, x_y_.
    other = tmp_path / "t" / "x_y_" / "seed0"
    other.mkdir(parents=True)
    (other / "metrics.json").write_text(json.dumps(record("x[y]")))
    assert adopt_legacy_run(tmp_path, "t", "x(y)", 0) is None and other.is_dir()
    assert not (tmp_path / "t" / "x%28y%29").exists()
