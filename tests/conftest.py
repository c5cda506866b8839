"""Shared fixtures: the micro track (a tiny real Llama pretrained once per test session) and paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One base-model cache for the whole session, so the micro track is pretrained once."""
    path = tmp_path_factory.mktemp("harness-cache")
    os.environ["HARNESS_CACHE_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def micro_track(cache_dir):
    from harness.config import load_track

    return load_track(FIXTURES / "micro-track.yaml")


@pytest.fixture(scope="session")
def micro_base(micro_track):
    """(model directory, base scores) of the micro track."""
    import json

    from harness.pretrain import ensure_base_model

    path = ensure_base_model(micro_track)
    return path, json.loads((path / "base_scores.json").read_text())
