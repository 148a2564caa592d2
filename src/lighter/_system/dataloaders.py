"""The System's dataloaders: checked at construction, rebuilt when a tuner changes the batch size."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch.utils.data import DataLoader, RandomSampler, SequentialSampler

from lighter._system.arguments import MODES, check_keys
from lighter.errors import LighterError, SystemError_

__all__ = ["parse_dataloaders", "with_batch_size"]


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


def with_batch_size(loaders: Mapping[str, DataLoader], batch_size: int) -> dict[str, DataLoader]:
    """``loaders`` with train and val rebuilt for ``batch_size`` (what ``scale_batch_size`` tunes).

    Raises:
        SystemError_: A dataloader to rebuild uses a ``batch_sampler``, which fixes its own batch size.
    """
    return {
        mode: _rebuild(loader, batch_size, f"system#dataloaders#{mode}")
        if mode in ("train", "val")
        else loader
        for mode, loader in loaders.items()
    }


def _rebuild(loader: DataLoader, batch_size: int, config_id: str) -> DataLoader:
    """A copy of ``loader`` with a new batch size and everything else kept."""
    if loader.batch_size is None:
        raise SystemError_("cannot change the batch size of a dataloader with a batch_sampler", id=config_id)
    sampler = loader.sampler
    # Rebuilding with shuffle=True makes a fresh RandomSampler; any other sampler is reused as it is.
    shuffle = type(sampler) is RandomSampler and not sampler.replacement and sampler._num_samples is None
    keep_sampler = not shuffle and type(sampler) is not SequentialSampler
    return DataLoader(
        loader.dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        sampler=sampler if keep_sampler else None,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
        timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context,
        generator=sampler.generator if shuffle else loader.generator,
        prefetch_factor=loader.prefetch_factor,
        persistent_workers=loader.persistent_workers,
    )
