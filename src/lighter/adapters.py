"""Adapters: how a System reads a batch and calls criteria, metrics and loggers.

A batch comes in many shapes (``(x, y)``, ``{"image": …, "label": …}``, a MONAI dict with ids), and
losses and metrics take their arguments in many orders. Adapters translate between them without
any Python glue in the user's project:

- :class:`BatchAdapter` turns a batch into ``(input, target, identifier)``;
- :class:`CriterionAdapter` / :class:`MetricsAdapter` call a loss or metric with ``input``,
  ``target`` and ``pred`` placed at the positions or keyword names the function expects, after
  optional transforms;
- :class:`LoggingAdapter` transforms ``input``, ``target`` and ``pred`` before they reach the
  output dict that callbacks and loggers see.

Adapters do not know the mode they serve; :class:`lighter.System` adds the config id
(``system#adapters#val#batch``) to any :class:`~lighter.errors.AdapterError` they raise while running.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from lighter.errors import AdapterError, did_you_mean

__all__ = [
    "BatchAdapterLike",
    "ArgumentAdapterLike",
    "LoggingAdapterLike",
    "BatchAdapter",
    "CriterionAdapter",
    "MetricsAdapter",
    "LoggingAdapter",
    "default_batch_adapter",
]

Accessor = int | str | Callable[[Any], Any]
Transforms = Callable[[Any], Any] | Sequence[Callable[[Any], Any]] | None


@runtime_checkable
class BatchAdapterLike(Protocol):
    """Anything that turns a batch into ``(input, target, identifier)``."""

    def __call__(self, batch: Any) -> tuple[Any, Any, Any]: ...


@runtime_checkable
class ArgumentAdapterLike(Protocol):
    """Anything that calls ``fn`` (a criterion or metrics) with a step's tensors."""

    def __call__(self, fn: Callable[..., Any], input: Any, target: Any, pred: Any) -> Any: ...  # noqa: A002


@runtime_checkable
class LoggingAdapterLike(Protocol):
    """Anything that maps ``(input, target, pred)`` to the values put in the output dict."""

    def __call__(self, input: Any, target: Any, pred: Any) -> tuple[Any, Any, Any]: ...  # noqa: A002


def _compose(name: str, owner: str, transforms: Transforms) -> Callable[[Any], Any] | None:
    """Check ``transforms`` and return one function applying them in order (``None`` if there are none)."""
    if transforms is None:
        return None
    funcs = [transforms] if callable(transforms) else list(transforms)
    for i, fn in enumerate(funcs):
        if not callable(fn):
            raise AdapterError(f"{owner}: {name}[{i}] is not callable (got {type(fn).__name__})")
    if not funcs:
        return None
    if len(funcs) == 1:
        return funcs[0]

    def apply(value: Any) -> Any:
        for fn in funcs:
            value = fn(value)
        return value

    return apply


def _describe(batch: Any) -> str:
    if isinstance(batch, Mapping):
        return f"a dict with keys {sorted(map(str, batch))}"
    if isinstance(batch, list | tuple):
        return f"a {type(batch).__name__} of length {len(batch)}"
    return f"a {type(batch).__name__}"


def _getter(name: str, accessor: Accessor) -> Callable[[Any], Any]:
    """Build the function reading one field of a batch, raising :class:`AdapterError` when it does not fit."""
    if callable(accessor):

        def call(batch: Any) -> Any:
            try:
                return accessor(batch)
            except Exception as e:
                raise AdapterError(
                    f"BatchAdapter: {name} {getattr(accessor, '__name__', accessor)!r} raised "
                    f"{type(e).__name__}: {e}"
                ) from e

        return call
    if isinstance(accessor, bool) or not isinstance(accessor, int | str):
        raise AdapterError(
            f"BatchAdapter: {name} must be an int index, a str key or a callable (got {type(accessor).__name__})"
        )

    def get(batch: Any) -> Any:
        try:
            return batch[accessor]
        except (IndexError, KeyError, TypeError) as e:
            suggestion = None
            if isinstance(accessor, str) and isinstance(batch, Mapping):
                suggestion = did_you_mean(accessor, map(str, batch))
            raise AdapterError(
                f"BatchAdapter: {name} {accessor!r} does not fit the batch, which is {_describe(batch)}",
                suggestion=suggestion,
            ) from e

    return get


class BatchAdapter:
    """Read ``(input, target, identifier)`` from a batch.

    Args:
        input_accessor: Index (``0``), key (``"image"``) or callable on the batch giving the input.
        target_accessor: The same for the target; ``None`` means no target.
        identifier_accessor: The same for per-sample identifiers; ``None`` means none.

    Raises:
        AdapterError: An accessor of the wrong type, or (when called) one that does not fit the batch.
    """

    def __init__(
        self,
        input_accessor: Accessor,
        target_accessor: Accessor | None = None,
        identifier_accessor: Accessor | None = None,
    ) -> None:
        self._input = _getter("input_accessor", input_accessor)
        self._target = None if target_accessor is None else _getter("target_accessor", target_accessor)
        self._identifier = (
            None if identifier_accessor is None else _getter("identifier_accessor", identifier_accessor)
        )

    def __call__(self, batch: Any) -> tuple[Any, Any, Any]:
        target = None if self._target is None else self._target(batch)
        identifier = None if self._identifier is None else self._identifier(batch)
        return self._input(batch), target, identifier


def _pair_batch(batch: Any) -> tuple[Any, Any, Any]:
    # The default for train/val/test: `(input, target)` as a TensorDataset or a tuple dataset gives.
    if isinstance(batch, list | tuple) and len(batch) >= 2:
        return batch[0], batch[1], None
    raise AdapterError(
        f"the default batch adapter expects an (input, target) list or tuple, but the batch is {_describe(batch)}",
        suggestion="set a BatchAdapter, e.g. BatchAdapter(input_accessor='image', target_accessor='label')",
    )


def _predict_batch(batch: Any) -> tuple[Any, Any, Any]:
    # A TensorDataset of inputs alone yields one-element batches, and the labelled dataset of val/test
    # yields (input, target): either way the input comes first. Any other batch is the input itself.
    if isinstance(batch, list | tuple) and batch:
        return batch[0], None, None
    return batch, None, None


def default_batch_adapter(mode: str) -> Callable[[Any], tuple[Any, Any, Any]]:
    """Return the default batch adapter of ``mode`` (see SPEC §5)."""
    return _predict_batch if mode == "predict" else _pair_batch


_FIELDS = ("input", "target", "pred")


class _ArgumentAdapter:
    """Place ``input``/``target``/``pred`` at a function's positions or keywords, after transforms."""

    def __init__(
        self,
        input_argument: int | str | None = None,
        target_argument: int | str | None = None,
        pred_argument: int | str | None = None,
        input_transforms: Transforms = None,
        target_transforms: Transforms = None,
        pred_transforms: Transforms = None,
    ) -> None:
        owner = type(self).__name__
        arguments = {"input": input_argument, "target": target_argument, "pred": pred_argument}
        if all(a is None for a in arguments.values()):
            arguments = {"input": None, "target": 1, "pred": 0}  # the default call is fn(pred, target)
        transforms = {"input": input_transforms, "target": target_transforms, "pred": pred_transforms}
        self._transforms = {f: _compose(f"{f}_transforms", owner, transforms[f]) for f in _FIELDS}
        positions: dict[int, str] = {}
        keywords: dict[str, str] = {}
        for field, argument in arguments.items():
            if argument is None:
                if self._transforms[field] is not None:
                    raise AdapterError(
                        f"{owner}: {field}_transforms given without {field}_argument",
                        suggestion=f"set {field}_argument to the position or keyword {field} goes to",
                    )
            elif isinstance(argument, bool) or not isinstance(argument, int | str):
                raise AdapterError(
                    f"{owner}: {field}_argument must be an int position or a str keyword "
                    f"(got {type(argument).__name__})"
                )
            elif isinstance(argument, int):
                if argument in positions:
                    raise AdapterError(
                        f"{owner}: {positions[argument]} and {field} both go to position {argument}"
                    )
                positions[argument] = field
            elif argument in keywords:
                raise AdapterError(
                    f"{owner}: {keywords[argument]} and {field} both go to keyword {argument!r}"
                )
            else:
                keywords[argument] = field
        if sorted(positions) != list(range(len(positions))):
            raise AdapterError(
                f"{owner}: positional arguments must be 0..{len(positions) - 1} without gaps "
                f"(got {sorted(positions)})"
            )
        self._positional = [positions[i] for i in range(len(positions))]
        self._keywords = list(keywords.items())
        self._plain = (
            self._positional == ["pred", "target"] and not keywords and not any(self._transforms.values())
        )

    def __call__(self, fn: Callable[..., Any], input: Any, target: Any, pred: Any) -> Any:  # noqa: A002
        if self._plain:  # the common case, kept cheap: fn(pred, target)
            return fn(pred, target)
        values = {"input": input, "target": target, "pred": pred}
        for field, transform in self._transforms.items():
            if transform is not None:
                values[field] = transform(values[field])
        args = [values[f] for f in self._positional]
        kwargs = {name: values[f] for name, f in self._keywords}
        return fn(*args, **kwargs)


class CriterionAdapter(_ArgumentAdapter):
    """Call the criterion with ``input``/``target``/``pred`` at the given positions or keywords.

    With no ``*_argument`` given the call is ``criterion(pred, target)``. Each ``*_argument`` is an
    int position (all positions together must be ``0..k-1``) or a keyword name. Transforms (a
    callable or a list of callables) are applied to their value first; a transform needs its argument.

    Raises:
        AdapterError: Gaps or clashes in positions, a transform without its argument, a non-callable transform.
    """


class MetricsAdapter(_ArgumentAdapter):
    """Call the metrics with ``input``/``target``/``pred`` at the given positions or keywords.

    Same rules as :class:`CriterionAdapter`; the default call is ``metrics(pred, target)``.
    """


class LoggingAdapter:
    """Transform ``input``, ``target`` and ``pred`` before they are put in the step's output dict.

    Args:
        input_transforms: A callable or a list of callables applied to the input.
        target_transforms: The same for the target.
        pred_transforms: The same for the prediction.
    """

    def __init__(
        self,
        input_transforms: Transforms = None,
        target_transforms: Transforms = None,
        pred_transforms: Transforms = None,
    ) -> None:
        self._input = _compose("input_transforms", "LoggingAdapter", input_transforms)
        self._target = _compose("target_transforms", "LoggingAdapter", target_transforms)
        self._pred = _compose("pred_transforms", "LoggingAdapter", pred_transforms)

    def __call__(self, input: Any, target: Any, pred: Any) -> tuple[Any, Any, Any]:  # noqa: A002
        return (
            input if self._input is None else self._input(input),
            target if self._target is None else self._target(target),
            pred if self._pred is None else self._pred(pred),
        )
