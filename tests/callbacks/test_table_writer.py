"""TableWriter on real predict runs: rows per sample, sorted, written atomically."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from tests.callbacks.helpers import run_predict
from torch import nn

from lighter.callbacks import FileWriter, TableWriter
from lighter.errors import LighterError


class Mean(nn.Module):
    """One scalar per sample."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1).mean(dim=1)


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_scalar_preds_are_numbers(tmp_path, images):
    run_predict([TableWriter(tmp_path / "preds.csv", "tensor")], images, model=Mean(), batch_size=3)

    rows = read_rows(tmp_path / "preds.csv")
    assert rows[0] == ["identifier", "pred"]
    assert [int(r[0]) for r in rows[1:]] == list(range(10))
    for (_, cell), image in zip(rows[1:], images, strict=True):
        assert float(cell) == pytest.approx(image.mean().item())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preds.csv"]  # no temporary file left


def test_tensor_preds_are_json_lists(tmp_path, images):
    run_predict([TableWriter(tmp_path / "preds.csv", "tensor")], images[:4])

    rows = read_rows(tmp_path / "preds.csv")[1:]
    assert [json.loads(cell) for _, cell in rows] == [image.tolist() for image in images[:4]]


def test_callable_maps_a_pred_to_a_cell_and_rows_sort_by_identifier(tmp_path, images):
    cases = ["c", "a", "d", "b"]
    items = [{"input": image, "case": case} for image, case in zip(images[:4], cases, strict=True)]

    run_predict(
        [TableWriter(tmp_path / "out" / "labels.csv", lambda pred: int(pred.argmax()))],
        items,
        identifier_key="case",
        batch_size=3,
    )

    expected = {case: str(int(image.argmax())) for image, case in zip(images[:4], cases, strict=True)}
    assert read_rows(tmp_path / "out" / "labels.csv")[1:] == [[case, expected[case]] for case in "abcd"]


def test_table_and_file_writers_together_keep_no_predictions(tmp_path, images):
    trainer, result = run_predict(
        [FileWriter(tmp_path / "files", "tensor"), TableWriter(tmp_path / "t.csv", "tensor")],
        images,
        model=Mean(),
    )

    assert result is None
    assert trainer.predict_loop.predictions == []
    assert len(read_rows(tmp_path / "t.csv")) == 11
    assert len(list((tmp_path / "files").iterdir())) == 10


@pytest.mark.parametrize(
    "writer, first_line",
    [
        pytest.param("tensr", "unknown table writer 'tensr' (did you mean 'tensor'?)", id="typo"),
        pytest.param("image", "unknown table writer 'image' (choose one of tensor)", id="file-format"),
        pytest.param(
            None, "TableWriter's writer must be a writer name or a callable, got NoneType", id="none"
        ),
    ],
)
def test_bad_writer_is_refused_at_construction(tmp_path, writer, first_line):
    with pytest.raises(LighterError) as info:
        TableWriter(tmp_path / "t.csv", writer)
    assert str(info.value).splitlines()[0] == first_line
