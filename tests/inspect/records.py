"""Run folders written by hand, as RECORD_SCHEMA's run.json describes them, for tests that read records.

A folder gets ``run.json``, ``config.yaml`` and, when ``curves`` are given, a ``metrics.csv`` laid
out as Lightning's CSVLogger writes it (``epoch``, ``step``, then one column per logged name, a row
per logging call with the other cells empty).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["entry", "write_run", "write_trial", "write_metrics"]

BASE_CONFIG = {
    "trainer#_target_": "pytorch_lightning.Trainer",
    "trainer#max_epochs": 3,
    "trainer#callbacks#0#_target_": "pytorch_lightning.callbacks.ModelCheckpoint",
    "trainer#callbacks#0#monitor": "val/loss/epoch",
    "system#_target_": "lighter.System",
    "system#optimizer#_target_": "torch.optim.SGD",
    "system#optimizer#lr": 0.1,
    "seed": 0,
}


def entry(stage: str = "fit", **fields: Any) -> dict[str, Any]:
    """One ENTRY of a run record; ``fields`` replace the defaults of a completed run."""
    number = fields.pop("number", 0)
    record = {
        "stage": stage,
        "output": None if stage == "fit" else stage,
        "command": ["lighter", stage, "experiment.yaml"],
        "configs": ["/home/me/experiment.yaml"],
        "overrides": [],
        "checkpoint": None if stage == "fit" else "checkpoints/best.ckpt",
        "started": f"2026-12-08T01:0{number}:00.000+00:00",
        "ended": f"2026-12-08T01:0{number}:12.500+00:00",
        "duration_s": 12.5,
        "outcome": "completed",
        "error": None,
        "signal": None,
        "git": None,
        "versions": {"lighter": "0.1.0", "torch": "2.13.0", "pytorch_lightning": "2.6.0", "python": "3.12.0"},
        "host": "box",
        "world_size": 1,
        "seed": 0,
        "best": None,
        "metrics": {},
    }
    if stage == "fit":
        record["best"] = {
            "path": "checkpoints/best.ckpt",
            "monitor": "val/loss/epoch",
            "score": 0.5,
            "mode": "min",
        }
        record["metrics"] = {"train/loss/epoch": 0.6, "val/loss/epoch": 0.5}
    record.update(fields)
    return record


def write_run(
    folder: Path,
    config: Mapping[str, Any] | None = None,
    entries: Sequence[Mapping[str, Any]] | None = None,
    sources: Mapping[str, str] | None = None,
    curves: Mapping[str, Sequence[float]] | None = None,
    **config_changes: Any,
) -> Path:
    """Write a run folder: the base config changed by ``config_changes`` (``system#optimizer#lr=0.01``
    is spelled ``**{"system#optimizer#lr": 0.01}``), one completed fit unless ``entries`` are given."""
    folder.mkdir(parents=True, exist_ok=True)
    flat = dict(BASE_CONFIG if config is None else config)
    flat.update(config_changes)
    given = {key: "command line" for key in config_changes}
    record = {
        "lighter_record": 1,
        "run_folder": str(folder.resolve()),
        "config": flat,
        "sources": {
            **{key: f"experiment.yaml:{n + 1}" for n, key in enumerate(flat)},
            **given,
            **(sources or {}),
        },
        "entries": list(entries) if entries is not None else [entry()],
    }
    (folder / "run.json").write_text(json.dumps(record, indent=2))
    (folder / "config.yaml").write_text("".join(f"# {key}: {value}\n" for key, value in flat.items()))
    if curves is not None:
        write_metrics(folder, curves)
    return folder


def write_trial(
    folder: Path, number: int, params: Mapping[str, Any], state: str = "COMPLETE", value: float | None = 0.5
) -> None:
    """Write the ``trial.json`` that ``lighter sweep`` puts beside a trial's run record."""
    trial = {"study": "study", "number": number, "params": dict(params), "state": state, "value": value}
    (folder / "trial.json").write_text(json.dumps(trial))


def write_metrics(folder: Path, curves: Mapping[str, Sequence[float]], steps_per_epoch: int = 4) -> None:
    """``metrics.csv`` with one value per epoch of each ``*/epoch`` name and one per step of the others."""
    names = sorted(curves)
    rows: list[dict[str, Any]] = []
    for name in names:
        for i, value in enumerate(curves[name]):
            epoch, step = (
                (i, (i + 1) * steps_per_epoch - 1) if name.endswith("/epoch") else (i // steps_per_epoch, i)
            )
            rows.append({"epoch": epoch, "step": step, name: value})
    rows.sort(key=lambda r: (r["step"], r["epoch"]))
    with (folder / "metrics.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=["epoch", "step", *names])
        writer.writeheader()
        writer.writerows(rows)
