"""Adapters on their own: reading batches, placing arguments, transforms, and their errors."""

from __future__ import annotations

import pytest
import torch

from lighter.adapters import (
    BatchAdapter,
    CriterionAdapter,
    LoggingAdapter,
    MetricsAdapter,
    default_batch_adapter,
)
from lighter.errors import AdapterError


def record(*args, **kwargs):
    """A stand-in criterion that returns how it was called."""
    return args, kwargs


@pytest.mark.parametrize(
    ("adapter", "batch", "expected"),
    [
        pytest.param(BatchAdapter(0, 1), ("x", "y"), ("x", "y", None), id="int-indices"),
        pytest.param(BatchAdapter(1, 0, 2), ["y", "x", "id"], ("x", "y", "id"), id="swapped-with-identifier"),
        pytest.param(
            BatchAdapter("image", "label", "name"),
            {"image": "x", "label": "y", "name": "n"},
            ("x", "y", "n"),
            id="str-keys",
        ),
        pytest.param(
            BatchAdapter(lambda b: b["a"] + b["b"]), {"a": 1, "b": 2}, (3, None, None), id="callable"
        ),
        pytest.param(BatchAdapter("image"), {"image": "x", "label": "y"}, ("x", None, None), id="input-only"),
    ],
)
def test_batch_adapter_reads_fields(adapter, batch, expected):
    assert adapter(batch) == expected


@pytest.mark.parametrize(
    ("mode", "batch", "expected"),
    [
        pytest.param("train", ("x", "y"), ("x", "y", None), id="train-pair"),
        pytest.param("test", ["x", "y", "extra"], ("x", "y", None), id="test-longer-tuple"),
        pytest.param("predict", ("x",), ("x", None, None), id="predict-one-element"),
        pytest.param("predict", "x", ("x", None, None), id="predict-bare"),
        pytest.param("predict", ("x", "y"), ("x", None, None), id="predict-labelled-pair"),
        pytest.param("predict", ["x", "y", "z"], ("x", None, None), id="predict-longer-list"),
        pytest.param("predict", {"image": "x"}, ({"image": "x"}, None, None), id="predict-dict-is-the-input"),
    ],
)
def test_default_batch_adapters(mode, batch, expected):
    assert default_batch_adapter(mode)(batch) == expected


@pytest.mark.parametrize(
    ("adapter", "batch", "first_line"),
    [
        pytest.param(
            BatchAdapter("image"),
            (1, 2),
            "BatchAdapter: input_accessor 'image' does not fit the batch, which is a tuple of length 2",
            id="str-on-tuple",
        ),
        pytest.param(
            BatchAdapter(0, 3),
            [1, 2],
            "BatchAdapter: target_accessor 3 does not fit the batch, which is a list of length 2",
            id="index-out-of-range",
        ),
        pytest.param(
            BatchAdapter("imge"),
            {"image": 1, "label": 2},
            "BatchAdapter: input_accessor 'imge' does not fit the batch, which is a dict with keys "
            "['image', 'label'] (did you mean 'image'?)",
            id="missing-key-suggests",
        ),
        pytest.param(
            BatchAdapter(0, identifier_accessor=lambda b: b["id"]),
            (1, 2),
            "BatchAdapter: identifier_accessor '<lambda>' raised TypeError: tuple indices must be integers or "
            "slices, not str",
            id="callable-raises",
        ),
    ],
)
def test_batch_adapter_errors(adapter, batch, first_line):
    with pytest.raises(AdapterError) as info:
        adapter(batch)
    assert str(info.value).splitlines()[0] == first_line


def test_default_batch_adapter_error_suggests_a_batch_adapter():
    with pytest.raises(AdapterError) as info:
        default_batch_adapter("train")({"image": 1})
    assert str(info.value).splitlines()[0] == (
        "the default batch adapter expects an (input, target) list or tuple, but the batch is a dict with keys "
        "['image'] (set a BatchAdapter, e.g. BatchAdapter(input_accessor='image', target_accessor='label'))"
    )


@pytest.mark.parametrize("cls", [CriterionAdapter, MetricsAdapter])
@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({}, (("p", "t"), {}), id="default-pred-target"),
        pytest.param({"pred_argument": 1, "target_argument": 0}, (("t", "p"), {}), id="swapped-positions"),
        pytest.param(
            {"pred_argument": "input", "target_argument": "target"},
            ((), {"input": "p", "target": "t"}),
            id="keywords",
        ),
        pytest.param({"input_argument": 0, "pred_argument": "y_hat"}, (("i",), {"y_hat": "p"}), id="mixed"),
        pytest.param(
            {
                "pred_argument": 0,
                "target_argument": 1,
                "pred_transforms": str.upper,
                "target_transforms": [str.upper, lambda s: s * 2],
            },
            (("P", "TT"), {}),
            id="transforms-callable-and-list",
        ),
        pytest.param({"pred_transforms": str.upper}, (("P", "t"), {}), id="transform-on-default-argument"),
    ],
)
def test_argument_adapters_place_arguments(cls, kwargs, expected):
    assert cls(**kwargs)(record, "i", "t", "p") == expected


@pytest.mark.parametrize(
    ("kwargs", "first_line"),
    [
        pytest.param(
            {"pred_argument": 0, "input_transforms": str.upper},
            "CriterionAdapter: input_transforms given without input_argument "
            "(set input_argument to the position or keyword input goes to)",
            id="transform-without-argument",
        ),
        pytest.param(
            {"pred_argument": 0, "target_argument": 2},
            "CriterionAdapter: positional arguments must be 0..1 without gaps (got [0, 2])",
            id="gap",
        ),
        pytest.param(
            {"pred_argument": 0, "target_argument": 0},
            "CriterionAdapter: target and pred both go to position 0",
            id="same-position",
        ),
        pytest.param(
            {"pred_argument": "x", "input_argument": "x"},
            "CriterionAdapter: input and pred both go to keyword 'x'",
            id="same-keyword",
        ),
        pytest.param(
            {"pred_argument": 1.0},
            "CriterionAdapter: pred_argument must be an int position or a str keyword (got float)",
            id="bad-argument-type",
        ),
        pytest.param(
            {"pred_argument": 0, "pred_transforms": [str.upper, "sigmoid"]},
            "CriterionAdapter: pred_transforms[1] is not callable (got str)",
            id="non-callable-transform",
        ),
    ],
)
def test_argument_adapter_errors(kwargs, first_line):
    with pytest.raises(AdapterError) as info:
        CriterionAdapter(**kwargs)
    assert str(info.value).splitlines()[0] == first_line


def test_batch_adapter_rejects_accessor_of_wrong_type():
    with pytest.raises(AdapterError) as info:
        BatchAdapter(1.5)
    assert str(info.value).splitlines()[0] == (
        "BatchAdapter: input_accessor must be an int index, a str key or a callable (got float)"
    )


def test_logging_adapter_transforms_each_field():
    adapter = LoggingAdapter(
        pred_transforms=[torch.sigmoid, lambda t: t > 0.5], target_transforms=lambda t: t * 2
    )
    inputs, target, pred = adapter(torch.ones(2), torch.ones(2), torch.tensor([-5.0, 5.0]))
    assert torch.equal(inputs, torch.ones(2))
    assert torch.equal(target, torch.full((2,), 2.0))
    assert pred.tolist() == [False, True]
