"""Change a model and load pretrained weights into it, from a config (the original Lighter's helpers).

Each takes the model and returns it, so it can wrap the model where the config builds it::

    model:
      _target_: lighter.utils.model.adjust_prefix_and_load_state_dict
      model: {_target_: project.models.Classifier}
      ckpt_path: pretrained/backbone.ckpt
      ckpt_to_model_prefix: {"": "backbone"}

Names, arguments and results are those of ``lighter.utils.model`` in Lighter 0.0.x. Where that
version failed late or silently (a prefix that matches no key, a layer name that does not exist),
these raise a :class:`~lighter.errors.ConfigError` naming what exists instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lighter.errors import ConfigError, closest, did_you_mean

__all__ = [
    "replace_layer_with",
    "replace_layer_with_identity",
    "remove_n_last_layers_sequentially",
    "adjust_prefix_and_load_state_dict",
]

_LOG = logging.getLogger(__name__)
_SHOWN_KEYS = 5  # keys an error lists, so that it stays one screen for a model of any size


def replace_layer_with(model: Any, layer_name: str, new_layer: Any) -> Any:
    """Replace the submodule ``layer_name`` of ``model`` (dotted, e.g. ``"layer4.fc"``) with ``new_layer``.

    Args:
        model: The model (a ``torch.nn.Module``), changed in place.
        layer_name: The layer's attribute path, parts joined by ``.``.
        new_layer: What takes its place.

    Returns:
        ``model``.

    Raises:
        ConfigError: ``model`` has no such layer (with the closest name it has).
    """
    *path, last = layer_name.split(".")
    owner = model
    for depth, part in enumerate(path):
        owner = _child(owner, part, ".".join(path[: depth + 1]), model)
    _child(owner, last, layer_name, model)
    setattr(owner, last, new_layer)
    return model


def replace_layer_with_identity(model: Any, layer_name: str) -> Any:
    """Replace the layer ``layer_name`` of ``model`` with ``torch.nn.Identity()`` (e.g. drop a head).

    Returns:
        ``model``.

    Raises:
        ConfigError: ``model`` has no such layer.
    """
    from torch.nn import Identity

    return replace_layer_with(model, layer_name, Identity())


def remove_n_last_layers_sequentially(model: Any, num_layers: int = 1) -> Any:
    """A ``torch.nn.Sequential`` of ``model``'s children without the last ``num_layers``.

    Like the original, only the top-level children are kept, in order: it suits a model whose
    ``forward`` calls its children one after the other.

    Raises:
        ConfigError: ``num_layers`` is not between 1 and the number of children minus one.
    """
    from torch.nn import Sequential

    children = list(model.children())
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or not 1 <= num_layers < len(children):
        raise ConfigError(
            f"cannot remove {num_layers!r} of the {len(children)} top-level layers of "
            f"{type(model).__name__}: give a number from 1 to {max(len(children) - 1, 1)}"
        )
    return Sequential(*children[:-num_layers])


def adjust_prefix_and_load_state_dict(
    model: Any,
    ckpt_path: str | Path,
    ckpt_to_model_prefix: Mapping[str, str] | None = None,
    layers_to_ignore: Sequence[str] | None = None,
) -> Any:
    """Load the weights of a checkpoint into ``model``, renaming key prefixes on the way.

    For weights trained inside a larger model: ``{"backbone": ""}`` loads the checkpoint's
    ``backbone.*`` weights into a standalone backbone, ``{"": "encoder"}`` loads a whole
    checkpoint into ``model.encoder``. Keys the model lacks, and model keys the checkpoint lacks
    (a new head), are left out (``strict=False``); at least one key must fit.

    Args:
        model: The model (a ``torch.nn.Module``); its weights are changed in place.
        ckpt_path: A Lightning checkpoint (weights under ``state_dict``; a ``lighter.System``'s
            ``model.`` prefix is taken off) or a file holding a plain state dict. Read with
            ``torch.load(weights_only=True)``: tensors only, no pickled code runs.
        ckpt_to_model_prefix: Checkpoint prefix → model prefix (a ``.`` is added to each unless
            empty). When given, only the keys under one of the checkpoint prefixes are loaded.
        layers_to_ignore: Keys (after renaming) not to load, e.g. a head of another size.

    Returns:
        ``model``.

    Raises:
        ConfigError: The file is missing or holds no state dict, a prefix matches no key, a
            key to ignore does not exist, or no key fits the model (each naming keys that exist).
    """
    state = _read_state_dict(Path(ckpt_path))
    if ckpt_to_model_prefix:
        state = _rename(state, ckpt_to_model_prefix, ckpt_path)
    for layer in layers_to_ignore or ():
        if layer not in state:
            raise ConfigError(
                f"layers_to_ignore: the checkpoint '{ckpt_path}' has no key '{layer}' (after renaming)",
                suggestion=did_you_mean(layer, state) or f"it has: {_some(state)}",
            )
        del state[layer]
    model_keys = list(model.state_dict())
    if not set(model_keys) & set(state):
        raise ConfigError(
            f"no weight of checkpoint '{ckpt_path}' fits {type(model).__name__}: the checkpoint has "
            f"{_some(state)}; the model has {_some(model_keys)}",
            suggestion="map the prefixes with ckpt_to_model_prefix, e.g. {'backbone': ''}",
        )
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        _LOG.info(
            "loaded %s into %s, leaving out %d model keys the checkpoint lacks (%s) and %d checkpoint "
            "keys the model lacks (%s)",
            ckpt_path,
            type(model).__name__,
            len(result.missing_keys),
            _some(result.missing_keys),
            len(result.unexpected_keys),
            _some(result.unexpected_keys),
        )
    return model


def _child(owner: Any, part: str, shown: str, model: Any) -> Any:
    """``owner``'s submodule ``part``, or an error naming the layers ``model`` has."""
    found = getattr(owner, part, None) if part else None
    if found is None or not hasattr(found, "state_dict"):
        names = [name for name, _ in model.named_modules() if name]
        near = closest(shown, names, n=1)
        raise ConfigError(
            f"{type(model).__name__} has no layer '{shown}'",
            suggestion=f"did you mean '{near[0]}'?" if near else f"its layers: {_some(names)}",
        )
    return found


def _read_state_dict(path: Path) -> dict[str, Any]:
    import torch

    if not path.is_file():
        raise ConfigError(
            f"checkpoint '{path}' does not exist" if not path.exists() else f"'{path}' is not a file"
        )
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is the same mistake to the user
        raise ConfigError(
            f"cannot read checkpoint '{path}' as weights: {type(error).__name__}: {str(error).splitlines()[0]}"
        ) from error
    if isinstance(content, Mapping) and isinstance(content.get("state_dict"), Mapping):
        # A Lightning checkpoint; a lighter.System keeps its model under `model.`.
        return {_drop(key, "model."): value for key, value in content["state_dict"].items()}
    if isinstance(content, Mapping) and content and all(isinstance(k, str) for k in content):
        return dict(content)
    raise ConfigError(
        f"checkpoint '{path}' holds no state dict (a Lightning checkpoint, or a dict of tensors)",
        suggestion="save one with torch.save(model.state_dict(), path)",
    )


def _rename(state: dict[str, Any], prefixes: Mapping[str, str], ckpt_path: Any) -> dict[str, Any]:
    """Keys under each checkpoint prefix, moved under its model prefix; every prefix must match."""
    renamed: dict[str, Any] = {}
    for ckpt_prefix, model_prefix in prefixes.items():
        source, target = _dotted(ckpt_prefix), _dotted(model_prefix)
        matched = {key: value for key, value in state.items() if key.startswith(source)}
        if not matched:
            tops = sorted({key.split(".")[0] for key in state})
            raise ConfigError(
                f"ckpt_to_model_prefix: no key of checkpoint '{ckpt_path}' starts with '{source}'; "
                f"it has {_some(list(state))}",
                suggestion=did_you_mean(ckpt_prefix, tops) or f"its top-level prefixes: {_some(tops)}",
            )
        renamed.update({target + key[len(source) :]: value for key, value in matched.items()})
    return renamed


def _dotted(prefix: str) -> str:
    return f"{prefix}." if prefix and not prefix.endswith(".") else prefix


def _drop(key: str, prefix: str) -> str:
    return key[len(prefix) :] if key.startswith(prefix) else key


def _some(keys: Sequence[str] | Mapping[str, Any]) -> str:
    keys = list(keys)
    if not keys:
        return "no keys"
    shown = ", ".join(f"'{k}'" for k in keys[:_SHOWN_KEYS])
    return shown + (f" … ({len(keys)} in all)" if len(keys) > _SHOWN_KEYS else "")
