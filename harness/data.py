"""Benchmark rows through `datasets`: local files under the data directory, or the hub.

The data directory is a folder laid out like the shared benchmark data (gsm8k/test.jsonl,
medcalc_bench/test_data.csv, ...). It comes from --data-dir / $HARNESS_DATA_DIR, else the
`shared/datasets` folder beside the repository when present. With a data directory, tasks read
their `local` files and nothing touches the network; a missing file is reported as unavailable.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from harness.discovery import REPO_ROOT
from harness.schemas import DataSource

SIBLING_DATA_DIR = REPO_ROOT.parent / "shared" / "datasets"


class DataUnavailable(Exception):
    """A task's data is not where its YAML says; the message says where it looked and what to do."""


def data_dir() -> Path | None:
    if env := os.environ.get("HARNESS_DATA_DIR"):
        return Path(env)
    return SIBLING_DATA_DIR if SIBLING_DATA_DIR.is_dir() else None


def read_files(files: list[Path]) -> list[dict]:
    """Rows of json/jsonl or csv files, concatenated. CSV cells stay strings ("0.20" keeps its digits)."""
    import datasets

    names = [str(f) for f in files]
    if names[0].endswith(".csv"):
        with open(names[0], newline="", encoding="utf-8") as f:
            header = next(csv.reader(f))
        features = datasets.Features({column: datasets.Value("string") for column in header})
        ds = datasets.load_dataset("csv", data_files=names, split="train", features=features, keep_default_na=False)
    else:
        ds = datasets.load_dataset("json", data_files=names, split="train")
    return ds.to_list()


def load_rows(source: DataSource, what: str) -> list[dict]:
    """All rows of a split. `what` names the task and split in error messages."""
    root = data_dir()
    if root is not None and source.local:
        files = [root / rel for rel in source.local]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise DataUnavailable(f"{what}: missing {', '.join(missing)} (data directory {root}; "
                                  "set --data-dir or HARNESS_DATA_DIR to a folder laid out like shared/datasets)")
        return read_files(files)
    if source.hub:
        import datasets

        try:
            ds = datasets.load_dataset(source.hub, source.hub_config, split=source.hub_split)
        except Exception as e:  # offline mode, no such dataset, ...
            raise DataUnavailable(f"{what}: could not load hub dataset {source.hub!r} ({type(e).__name__}: {e}); "
                                  "point --data-dir / HARNESS_DATA_DIR at local files instead") from None
        return ds.to_list()
    raise DataUnavailable(f"{what}: no data directory is set and the task names no hub dataset")
