"""A study's track variants: each is a track of its own, with its own cached base and version (paper 002's sweep of
the long-chain share epsilon and of the pretraining steps)."""

from __future__ import annotations

import pytest

from harness.config import load_track, track_version
from harness.errors import ConfigError
from harness.pretrain import base_model_dir, recipe_key
from harness.schemas import TrackVariant
from harness.study import derive_track, load_study, study_tracks
from harness import track_data

from tests.conftest import REPO

EPS = "base_model.pretrain.task_params.parity.cot_prob"


def _variant(name, **changes):
    return TrackVariant(name=name, set=changes)


def test_epsilon_override_changes_the_base_cache_key_and_the_track_version():
    track = load_track("tiny-parity-rare")
    eps10 = derive_track(track, TrackVariant(name="eps10", set={EPS: 0.1, "domain.train.params.cot_prob": 0.1}))
    assert eps10.name == "tiny-parity-rare.eps10"
    assert eps10.base_model.pretrain.task_params["parity"]["cot_prob"] == 0.1
    assert eps10.domain.train.params["cot_prob"] == 0.1
    assert eps10.overrides == {EPS: 0.1, "domain.train.params.cot_prob": 0.1}  # what changed, in the version too
    assert "cot_prob=0.1" in eps10.description
    assert recipe_key(eps10) != recipe_key(track) and base_model_dir(eps10) != base_model_dir(track)
    assert track_version(eps10) != track_version(track)
    long = [ex for ex in track_data.domain_train_examples(eps10) if len(ex.completion) > 3]
    assert 0.06 < len(long) / eps10.domain.train.n < 0.14  # the training data follows epsilon
    steps = derive_track(track, TrackVariant(name="pre500", set={"base_model.pretrain.steps": 500}))
    assert recipe_key(steps) not in (recipe_key(track), recipe_key(eps10))
    assert track_version(steps) not in (track_version(track), track_version(eps10))


def test_a_variant_that_changes_no_pretraining_reuses_the_tracks_base():
    track = load_track("tiny-parity-rare")
    same = derive_track(track, TrackVariant(name="same", set={EPS: 0.25}))  # the file's own value
    assert base_model_dir(same) == base_model_dir(track)
    assert track_version(same) != track_version(track)  # its runs still rank apart: `overrides` is in the version


def test_variant_paths_must_name_existing_fields():
    track = load_track("tiny-parity-rare")
    with pytest.raises(ConfigError, match="has no 'party'"):
        derive_track(track, TrackVariant(name="typo", set={"base_model.pretrain.task_params.party.cot_prob": 0.1}))
    with pytest.raises(ConfigError, match="not a valid track"):
        derive_track(track, TrackVariant(name="bad", set={"base_model.pretrain.steps": 0}))
    with pytest.raises(ConfigError, match="not a valid name"):
        derive_track(track, TrackVariant(name="x" * 60, set={"base_model.pretrain.steps": 10}))


def test_track_files_cannot_set_overrides(tmp_path):
    text = (REPO / "tasks" / "tracks" / "tiny-parity-rare.yaml").read_text() + "overrides: {a: 1}\n"
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="track_variants"):
        load_track(path)


def test_parity_epsilon_study_has_the_grid():
    study, track, trials = load_study(REPO / "submissions" / "studies" / "parity-epsilon.yaml")
    tracks = study_tracks(study, track)
    assert [t.name for t in tracks] == [f"tiny-parity-rare.{v}" for v in
                                        ("eps10-pre500", "eps10-pre1500", "eps25-pre500", "eps25-pre1500")]
    assert len({track_version(t) for t in tracks}) == 4
    assert len({base_model_dir(t) for t in tracks}) == 4
    assert base_model_dir(tracks[-1]) == base_model_dir(track)  # epsilon 0.25, 1500 steps: the track's own base
    assert {t.submission.method for t in trials} == {"base", "grpo", "star"}
