"""Argument values against annotations: the table of forms, the messages, and the check at build time."""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, TypeVar, Union

import numpy as np
import pytest
import torch

from lighter.config import ConfigParser
from lighter.config.annotation import UNKNOWN, mismatch
from lighter.config.typecheck import annotations_of, describe, type_problems
from lighter.errors import Location

T = TypeVar("T")


class Color(enum.Enum):
    RED = "red"


class Base:
    pass


class Child(Base):
    pass


def _gen():
    yield 1


class _MissingOptionalImport:
    """What MONAI's optional_import puts in an annotation when the package is missing
    (``ignite.metrics.Metric`` without ignite): any attribute looked up raises."""

    def __getattr__(self, name):
        raise ImportError("from ignite.metrics import Metric (No module named 'ignite')")


MISSING = _MissingOptionalImport()


FITS = [
    pytest.param(3, int, id="int"),
    pytest.param(3, float, id="int-for-float"),
    pytest.param(0.5, float, id="float"),
    pytest.param(True, bool, id="bool"),
    pytest.param("a", str, id="str"),
    pytest.param(None, Optional[int], id="optional-none"),  # noqa: UP045 - the typing form on purpose
    pytest.param(3, int | None, id="pipe-union"),
    pytest.param("16-mixed", Union[Literal[16, 32], Literal["16-mixed"], None], id="lightning-precision"),  # noqa: UP007
    pytest.param(16, Literal[16, 32], id="literal-int"),
    pytest.param([1, 2], list[int], id="list"),
    pytest.param([1, 2], tuple[int, int], id="yaml-list-for-tuple"),
    pytest.param([1, 2, 3], tuple[int, ...], id="variadic-tuple"),
    pytest.param([0.9, 0.999], Sequence[float], id="sequence"),
    pytest.param({"a": 1}, dict[str, int], id="dict"),
    pytest.param({"a": [1]}, Mapping[str, list[int]], id="nested-mapping"),
    pytest.param("runs", Path, id="str-for-path"),
    pytest.param(Path("runs"), str | os.PathLike, id="pathlike"),
    pytest.param(len, Callable, id="callable"),
    pytest.param(len, Callable[[int], int], id="callable-args"),
    pytest.param(Child(), Base, id="subclass-instance"),
    pytest.param(Child, type[Base], id="type-of"),
    pytest.param("red", Color, id="enum-by-value"),
    pytest.param("RED", Color, id="enum-by-name"),
    pytest.param(3, Annotated[int, "meta"], id="annotated"),
    pytest.param("anything", T, id="typevar"),
    pytest.param("anything", "NotResolvable", id="string-forward-ref"),
    pytest.param(5, Any, id="any"),
    pytest.param(_gen(), Iterable[str], id="generator-not-consumed"),
    pytest.param(5, MISSING, id="unreadable-annotation"),
    pytest.param([5], Sequence[MISSING] | None, id="unreadable-annotation-inside"),
    pytest.param(UNKNOWN, int, id="unknown-value"),
    pytest.param([UNKNOWN, 1], list[int], id="unknown-element"),
    # MONAI's NormalizeIntensity(subtrahend=0.5): `Sequence | NdarrayOrTensor | None`, and it works.
    pytest.param(0.5, Sequence | np.ndarray | torch.Tensor | None, id="number-for-array-or-tensor"),
    pytest.param(2, torch.Tensor, id="number-for-tensor"),
    pytest.param(torch.ones(2), torch.Tensor, id="tensor"),
    pytest.param(np.ones(2), np.ndarray, id="ndarray"),
]

MISFITS = [
    pytest.param("ten", int, "int", id="str-for-int"),
    pytest.param(True, int, "int", id="bool-is-not-int"),
    pytest.param(True, float, "float", id="bool-is-not-float"),
    pytest.param(1.5, int, "int", id="float-for-int"),
    pytest.param(3, str, "str", id="int-for-str"),
    pytest.param("16", Literal[16, 32], "16 | 32", id="literal-type-matters"),
    pytest.param(True, Literal[1], "1", id="literal-bool-is-not-1"),
    pytest.param([1, 2, 3], tuple[int, int], "tuple[int, int]", id="tuple-length"),
    pytest.param(5, Callable, "callable", id="not-callable"),
    pytest.param(Base(), Child, f"{__name__}.Child", id="superclass-instance"),
    pytest.param("blue", Color, f"{__name__}.Color", id="enum-unknown"),
    pytest.param(5, Path, "Path", id="int-for-path"),
    pytest.param("0.5", torch.Tensor, "torch.Tensor", id="str-for-tensor"),
    pytest.param(True, np.ndarray, "numpy.ndarray", id="bool-for-ndarray"),
]


@pytest.mark.parametrize(("value", "annotation"), FITS)
def test_value_fits(value, annotation):
    assert mismatch(value, annotation) is None


@pytest.mark.parametrize(("value", "annotation", "expected"), MISFITS)
def test_value_does_not_fit(value, annotation, expected):
    found = mismatch(value, annotation)
    assert found is not None and found.path == ()
    assert describe(found.expected) == expected


def test_the_deepest_misfit_is_reported_through_the_union_member_of_its_shape():
    found = mismatch([Child(), 5], Union[list[Base], Base, None])  # noqa: UP007
    assert found is not None and (found.path, found.value) == ((1,), 5)
    found = mismatch({"train": {"x": "y"}}, Mapping[str, Mapping[str, int]])
    assert found is not None and found.path == ("train", "x")


def test_describe_leaves_none_out_at_the_top_only():
    assert describe(Optional[int]) == "int"  # noqa: UP045
    assert describe(list[int | None]) == "list[int | None]"
    assert describe(Union[Literal["a", "b"], None]) == "'a' | 'b'"  # noqa: UP007


def _target(max_epochs: int | None = None, lr: float = 0.1, ratio: int = None, *rest: str, **extra: bool):  # noqa: RUF013
    return max_epochs


def test_problems_name_the_argument_id_and_its_location():
    where = {"max_epochs": Location("exp.yaml", 12)}
    problems = type_problems(
        _target,
        [],
        {"max_epochs": "ten", "lr": 1, "ratio": None, "flag": "yes", "other": UNKNOWN},
        id="trainer",
        where=where.get,
    )
    assert [str(p) for p in problems] == [
        "exp.yaml:12 @ trainer#max_epochs: expects int, got 'ten' (str)",
        "@ trainer#flag: expects bool, got 'yes' (str)",  # **extra: bool
    ]


def test_positional_and_var_positional_arguments_are_checked():
    problems = type_problems(_target, [1, 0.5, 2, "a", 3], {}, id="x", where=lambda _: None)
    assert [str(p) for p in problems] == ["@ x#_args_#4: expects str, got 3 (int)"]


def test_string_annotations_resolve_in_the_targets_module_and_are_cached():
    from lighter.system import System

    params = dict((p.name, a) for p, a in annotations_of(System))
    assert describe(params["scheduler"]) == "torch.optim.lr_scheduler.LRScheduler | Mapping[str, Any]"
    assert annotations_of(System) is annotations_of(System)


def _parse(text: str, tmp_path: Path, *overrides: str) -> ConfigParser:
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    parser = ConfigParser()
    parser.read_config(str(path))
    parser.apply_overrides(list(overrides))
    return parser


TRAINER = """\
trainer:
  _target_: pytorch_lightning.Trainer
  max_epochs: 3
  precision: bf16-mixed
  logger: false
  enable_progress_bar: false
"""


def test_override_of_the_wrong_type_is_reported_at_the_command_line(tmp_path):
    parser = _parse(TRAINER, tmp_path, "--trainer#max_epochs=ten")
    assert [str(p) for p in parser.find_problems()] == [
        "command line @ trainer#max_epochs: expects int, got 'ten' (str)"
    ]


def test_a_reference_to_a_plain_value_is_checked_as_that_value(tmp_path):
    text = TRAINER + "vars:\n  epochs: ten\n"
    parser = _parse(text, tmp_path, "--trainer#max_epochs=@vars#epochs")
    assert [str(p) for p in parser.find_problems()] == [
        "command line @ trainer#max_epochs: expects int, got 'ten' (str)"
    ]


def test_value_from_an_expression_is_not_guessed(tmp_path):
    text = TRAINER + "vars:\n  epochs: \"$'ten'\"\n"
    assert _parse(text, tmp_path, "--trainer#max_epochs=@vars#epochs").find_problems() == []


def test_lightning_trainer_accepts_its_usual_values(tmp_path):
    parser = _parse(TRAINER + "  devices: 1\n  accelerator: cpu\n  callbacks: []\n", tmp_path)
    assert type(parser.get_parsed_content("trainer")).__name__ == "Trainer"


def test_several_misfits_of_one_component_are_reported_together(tmp_path):
    parser = _parse(TRAINER.replace("max_epochs: 3", "max_epochs: true") + "  callbacks: [5]\n", tmp_path)
    assert [str(p) for p in parser.find_problems()] == [
        f"{tmp_path / 'exp.yaml'}:3 @ trainer#max_epochs: expects int, got True (bool)",
        f"{tmp_path / 'exp.yaml'}:7 @ trainer#callbacks#0: expects pytorch_lightning.Callback, got 5 (int)",
    ]
