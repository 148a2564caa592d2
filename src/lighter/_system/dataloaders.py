"""The System's dataloaders: checked at construction, rebuilt when a tuner changes the batch size.

``scale_batch_size`` sets :attr:`System.batch_size`, which rebuilds the train and val dataloaders.
A rebuild keeps the loader's class (a ``DataLoader`` subclass stays itself) and every argument it
was built with (``in_order``, ``pin_memory_device``, a subclass's own arguments …), changing only
``batch_size``. The arguments are known exactly when the loader was built inside
:func:`recording_init_args` (the runner builds every System so); otherwise they are read back from
the loader's attributes, as Lightning does when it re-instantiates a dataloader, and a required
argument that cannot be read back is an error rather than a silently different loader.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from torch.utils.data import DataLoader, RandomSampler, SequentialSampler

from lighter._system.arguments import MODES, check_keys
from lighter.errors import LighterError, SystemError_

__all__ = ["parse_dataloaders", "recording_init_args", "with_batch_size"]

# Where a loader built inside `recording_init_args` keeps its constructor's (args, kwargs). A private
# name: Lightning's own re-instantiation reads only public attributes.
_INIT_ARGS = "_lighter_init_args"


def parse_dataloaders(dataloaders: Any, problems: list[LighterError]) -> dict[str, DataLoader]:
    """The given dataloaders by mode, without the modes set to ``None`` (pruned by the runner)."""
    if not isinstance(dataloaders, Mapping):
        problems.append(
            SystemError_(
                f"dataloaders must be a dict with keys {', '.join(MODES)} (got {type(dataloaders).__name__})",
                id="system#dataloaders",
            )
        )
        return {}
    loaders = {}
    for mode in check_keys(dataloaders, MODES, "system#dataloaders", problems):
        loader = dataloaders[mode]
        if loader is None:
            continue  # a mode pruned by the runner
        if not isinstance(loader, DataLoader):
            problems.append(
                SystemError_(
                    f"expected a torch.utils.data.DataLoader (got {type(loader).__name__})",
                    id=f"system#dataloaders#{mode}",
                )
            )
        else:
            loaders[mode] = loader
    return loaders


_recording = threading.local()


def _recording_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    loader = object.__new__(cls)
    if getattr(_recording, "depth", 0):
        # DataLoader guards some attributes in __setattr__; this one is ours, set before __init__.
        object.__setattr__(loader, _INIT_ARGS, (args, kwargs))
    return loader


@contextmanager
def recording_init_args() -> Iterator[None]:
    """Within the block, every ``DataLoader`` (subclasses included) remembers its constructor's arguments.

    ``DataLoader.__new__`` receives the same arguments as the ``__init__`` of the class actually
    built, subclasses defined later included, so one hook on the base class sees them all. The
    hook stays once installed and records nothing outside the block: CPython cannot give a class
    back ``object.__new__`` after replacing it (calls with arguments would fail), so it is never
    removed, only switched off.
    """
    if DataLoader.__dict__.get("__new__") is None:
        if "__new__" in DataLoader.__dict__ or DataLoader.__new__ is not object.__new__:
            raise RuntimeError("DataLoader already has its own __new__; lighter cannot record its arguments")
        # Python reads a class's signature from its own __new__ first: without this, DataLoader's
        # would read (*args, **kwargs) from now on, and checks of its arguments would see nothing.
        _recording_new.__signature__ = inspect.signature(DataLoader.__init__)  # type: ignore[attr-defined]
        DataLoader.__new__ = staticmethod(_recording_new)  # type: ignore[assignment]
    _recording.depth = getattr(_recording, "depth", 0) + 1
    try:
        yield
    finally:
        _recording.depth -= 1


def with_batch_size(loaders: Mapping[str, DataLoader], batch_size: int) -> dict[str, DataLoader]:
    """``loaders`` with train and val rebuilt for ``batch_size`` (what ``scale_batch_size`` tunes).

    Raises:
        SystemError_: A dataloader to rebuild uses a ``batch_sampler`` (which fixes its own batch
            size), takes no ``batch_size``, or cannot be rebuilt with the arguments it was given.
    """
    return {
        mode: _rebuild(loader, batch_size, f"system#dataloaders#{mode}")
        if mode in ("train", "val")
        else loader
        for mode, loader in loaders.items()
    }


def _rebuild(loader: DataLoader, batch_size: int, config_id: str) -> DataLoader:
    """A new loader of ``loader``'s class with a new batch size and every other argument kept."""
    cls = type(loader)
    if loader.batch_size is None:
        raise SystemError_("cannot change the batch size of a dataloader with a batch_sampler", id=config_id)
    recorded = loader.__dict__.get(_INIT_ARGS)
    if recorded is not None:
        args, kwargs = _recorded_arguments(cls, *recorded, batch_size, config_id)
    else:
        args, kwargs = (), _arguments_from_attributes(loader, batch_size, config_id)
    rebuilt = cls(*args, **kwargs)
    if rebuilt.batch_size != batch_size:
        raise SystemError_(
            f"{cls.__qualname__} was rebuilt with batch_size={batch_size} but chose batch_size={rebuilt.batch_size}",
            id=config_id,
            suggestion="pass batch_size through to DataLoader, or tune the batch size by hand",
        )
    if recorded is not None:
        object.__setattr__(rebuilt, _INIT_ARGS, (args, kwargs))  # the next trial rebuilds this one
    return rebuilt


def _recorded_arguments(
    cls: type, args: tuple, kwargs: dict[str, Any], batch_size: int, config_id: str
) -> tuple[tuple, dict[str, Any]]:
    """The constructor's own arguments with ``batch_size`` replaced, placed where the call put it."""
    signature = inspect.signature(cls)
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:  # a signature that hides its parameters: replace the keyword only
        return args, {**kwargs, "batch_size": batch_size}
    parameters = signature.parameters
    if "batch_size" in parameters and parameters["batch_size"].kind is not inspect.Parameter.VAR_KEYWORD:
        bound.arguments["batch_size"] = batch_size
    else:
        var_keyword = next((p.name for p in parameters.values() if p.kind is p.VAR_KEYWORD), None)
        if var_keyword is None:
            raise SystemError_(
                f"cannot change the batch size of {cls.__qualname__}: its constructor takes no batch_size",
                id=config_id,
            )
        bound.arguments[var_keyword] = {**bound.arguments.get(var_keyword, {}), "batch_size": batch_size}
    return bound.args, bound.kwargs


def _arguments_from_attributes(loader: DataLoader, batch_size: int, config_id: str) -> dict[str, Any]:
    """Keyword arguments for ``type(loader)`` read back from the loader, as Lightning re-instantiates one.

    Used for a loader built outside :func:`recording_init_args` (a System made in Python).
    """
    cls = type(loader)
    sampler = loader.sampler
    # A plain RandomSampler was made by shuffle=True: rebuild with shuffle (a fresh sampler, the same
    # generator); any other sampler is reused as it is.
    shuffle = type(sampler) is RandomSampler and not sampler.replacement and sampler._num_samples is None
    derived = {
        "batch_size": batch_size,
        "shuffle": shuffle,
        "sampler": None if shuffle or type(sampler) is SequentialSampler else sampler,
        "batch_sampler": None,
        "generator": sampler.generator if shuffle else loader.generator,
    }
    kwargs: dict[str, Any] = {}
    for name, parameter in _constructor_parameters(cls).items():
        if name in derived:
            kwargs[name] = derived[name]
        elif name in loader.__dict__:
            kwargs[name] = loader.__dict__[name]
        elif isinstance(getattr(cls, name, None), property):  # e.g. multiprocessing_context
            kwargs[name] = getattr(loader, name)
        elif parameter.default is inspect.Parameter.empty:
            raise SystemError_(
                f"cannot rebuild {cls.__qualname__} with a new batch size: its argument '{name}' is not "
                "kept as an attribute of the same name",
                id=config_id,
                suggestion=f"keep it as self.{name} in __init__, or build the loader from a config (lighter "
                "records every argument of the loaders it builds)",
            )
    return kwargs


def _constructor_parameters(cls: type) -> dict[str, inspect.Parameter]:
    """Named parameters of ``cls``'s constructor and, through ``**kwargs``, of its bases' up to DataLoader."""
    found: dict[str, inspect.Parameter] = {}
    for base in cls.__mro__:
        if "__init__" not in base.__dict__:
            continue
        parameters = list(inspect.signature(base.__init__).parameters.values())[1:]  # drop self
        for p in parameters:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                found.setdefault(p.name, p)
        if base is DataLoader or not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return found
