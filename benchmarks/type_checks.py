"""What the whole-config pre-flight (``lighter check``, and a run before it builds) costs against a
resolution of the same config.

Run ``python benchmarks/type_checks.py`` (``--quick`` for a smoke run). The config has ``n``
components of an annotated target (``int``, ``float``, ``Optional``, ``Literal``, ``list[int]``,
``Mapping``) each fed literals and one ``@`` reference, so every argument is checked. Both are
measured in the same run.

Goal: the pre-flight costs no more than one resolution (it reads the same table, but calls
nothing).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from typing import Literal

__all__ = ["Annotated", "synthetic_config", "main"]

PREFLIGHT_TARGET = 1.0


class Annotated:
    """A component with the kinds of annotations Lightning and torch use."""

    def __init__(
        self,
        size: int,
        rate: float = 0.1,
        steps: int | None = None,
        mode: Literal["min", "max"] = "min",
        shape: list[int] | None = None,
        extra: Mapping[str, float] | None = None,
        previous: object = None,
    ) -> None:
        self.size = size


def synthetic_config(n: int) -> dict:
    """``n`` annotated components; each refers to an earlier one."""
    config: dict = {}
    for i in range(n):
        config[f"c{i}"] = {
            "_target_": f"{__name__}.Annotated",
            "size": i,
            "rate": 0.5,
            "steps": None if i % 2 else 3,
            "mode": "max",
            "shape": [1, 2, 3],
            "extra": {"a": 1.0},
            "previous": f"@c{i // 2}" if i else None,
        }
    return config


def best_of(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--quick", action="store_true", help="small config, few repetitions")
    args = options.parse_args(argv)
    n, repeats = (200, 3) if args.quick else (1500, 7)
    sys.modules.setdefault(__name__, sys.modules["__main__"])

    from lighter.config import ConfigParser

    config = synthetic_config(n)

    def resolve() -> object:
        return ConfigParser(config=config).get_parsed_content("")

    def preflight() -> object:
        problems = ConfigParser(config=config).find_problems()
        assert not problems, problems
        return problems

    resolved = best_of(resolve, repeats)
    flight = best_of(preflight, repeats)
    ratio = flight / resolved
    print(f"n = {n} annotated components, best of {repeats}")
    print(f"resolve                     {resolved:8.4f} s")
    print(
        f"pre-flight (lighter check)  {flight:8.4f} s   {ratio:5.2f}x of a resolution (goal <= {PREFLIGHT_TARGET}x)"
    )
    print("goal met" if ratio <= PREFLIGHT_TARGET else "goal MISSED", "(quick run)" if args.quick else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
