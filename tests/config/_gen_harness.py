"""Run MONAI's and lighter's config parsers side by side and compare what they build.

``check_like_monai`` is the one assertion the differential tests make: for every id, when MONAI
resolves it ours resolves it to an equivalent object, and when MONAI raises ours raises a
``LighterError``. The caller's config must come back unchanged from our parser.
"""

from __future__ import annotations

import copy
import functools
import signal
import time
import warnings
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from _gen_compare import difference, shared_groups

__all__ = [
    "Outcome",
    "monai_parser",
    "our_parser",
    "resolve_each",
    "check_like_monai",
    "time_limit",
    "TimeLimit",
]


@dataclass
class Outcome:
    """What ``get_parsed_content(id)`` gave: a value, or the exception it raised."""

    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def monai_parser(config: Any = None, globals: dict | None = None, files: Any = None) -> Any:  # noqa: A002
    """A ``monai.bundle.ConfigParser`` on a private copy (MONAI rewrites its config in place)."""
    from monai.bundle import ConfigParser

    parser = ConfigParser(config=copy.deepcopy(config), globals=copy.copy(globals))
    parser.locator = _shared_locator()
    if files is not None:
        parser.read_config(files)
    return parser


@functools.cache
def _shared_locator() -> Any:
    """One MONAI ComponentLocator for all parsers: each builds its name table anew (~0.3 s)."""
    from monai.bundle.config_item import ComponentLocator

    return ComponentLocator()


def our_parser(config: Any = None, globals: dict | None = None, files: Any = None) -> Any:  # noqa: A002
    """A ``lighter.config.ConfigParser`` given the caller's config as is (it must not mutate it)."""
    from lighter.config import ConfigParser

    parser = ConfigParser(config=config, globals=globals)
    if files is not None:
        parser.read_config(files)
    return parser


def resolve_each(make: Callable[[], Any], ids: Iterable[str], **kwargs: Any) -> dict[str, Outcome]:
    """Resolve ``ids`` in order with one parser; after an error, go on with a fresh parser."""
    parser, outcomes = make(), {}
    for id_ in ids:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outcomes[id_] = Outcome(value=parser.get_parsed_content(id_, **kwargs))
        except TimeLimit:
            raise
        except Exception as err:  # noqa: BLE001 - any failure is an outcome to compare
            outcomes[id_] = Outcome(error=err)
            parser = make()
    return outcomes


def check_like_monai(
    config: dict | None,
    ids: list[str],
    globals: dict | None = None,
    files: Any = None,  # noqa: A002
) -> dict[str, Outcome]:
    """Assert that ours resolves every id in ``ids`` like MONAI does (see module docstring).

    Args:
        config: The config given to the constructor (``None`` to read ``files`` only).
        ids: The ids to resolve, in this order, with one parser each side.
        globals: Passed to both constructors.
        files: Passed to both parsers' ``read_config``.

    Returns:
        MONAI's outcome for each id, so a caller can also check that its case is what it claims.
    """
    from lighter.errors import LighterError

    expected = resolve_each(lambda: monai_parser(config, globals, files), ids)
    before = copy.deepcopy(config)
    actual = resolve_each(lambda: our_parser(config, globals, files), ids)
    assert config == before, "lighter mutated the caller's config"
    problems = []
    for id_ in ids:
        want, got = expected[id_], actual[id_]
        if not want.ok:
            if got.ok:
                problems.append(f"{id_!r}: MONAI raised {want.error!r}, ours returned {got.value!r}")
            elif not isinstance(got.error, LighterError):
                problems.append(
                    f"{id_!r}: ours raised {type(got.error).__name__}, not a LighterError: {got.error}"
                )
        elif not got.ok:
            problems.append(
                f"{id_!r}: MONAI gave {want.value!r}, ours raised {type(got.error).__name__}: {got.error}"
            )
        else:
            diff = difference(want.value, got.value)
            if diff is not None:
                problems.append(f"{id_!r}: {diff}")
    if "" in ids and expected[""].ok and actual[""].ok:
        want_groups, got_groups = shared_groups(expected[""].value), shared_groups(actual[""].value)
        if want_groups != got_groups:
            problems.append(
                f"shared objects differ: MONAI {sorted(map(sorted, want_groups))}, ours {sorted(map(sorted, got_groups))}"
            )
    assert not problems, "\n".join(problems)
    return expected


class TimeLimit(BaseException):
    """Raised inside a resolution that ran past its time limit (a BaseException so no one swallows it)."""


@contextmanager
def time_limit(seconds: float):
    """Interrupt the block after ``seconds`` of wall time (main thread, POSIX only)."""

    def interrupt(signum: int, frame: Any) -> None:
        raise TimeLimit()

    previous = signal.signal(signal.SIGALRM, interrupt)
    # pytest-timeout may have its own alarm running: give it back what is left of it afterwards.
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001))
