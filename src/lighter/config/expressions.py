"""Evaluate ``$`` expressions: the names they see, ``$import`` statements, compiled-code caching.

Expressions see MONAI's default names (``monai``, ``torch``, ``np``, ``numpy``), the names given as
``ConfigParser(globals=...)`` and every name added by a ``$import``/``$from … import`` statement.
Module names are imported only when an expression actually uses them, so a config without
``$torch…`` never imports torch here.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Mapping
from types import CodeType
from typing import Any

from lighter.config.ids import LOCAL_REFS

__all__ = [
    "DEFAULT_GLOBALS",
    "Names",
    "FailedImport",
    "is_import_statement",
    "compile_expression",
    "bound_names",
]

# MONAI's ConfigParser pre-imports these for every expression; here they load on first use.
DEFAULT_GLOBALS = {"monai": "monai", "torch": "torch", "np": "numpy", "numpy": "numpy"}

_CODE_CACHE: dict[str, tuple[CodeType, frozenset[str]]] = {}
_CODE_CACHE_SIZE = 8192


def is_import_statement(code: str) -> bool:
    """Whether expression code (without ``$``) is an ``import``/``from … import`` statement."""
    if "import" not in code:
        return False
    try:
        tree = ast.parse(code.strip())
    except SyntaxError:
        return False
    return bool(tree.body) and isinstance(tree.body[0], (ast.Import, ast.ImportFrom))


def bound_names(code: str) -> list[str]:
    """The names an import statement binds (``import a.b`` binds ``a``)."""
    node = ast.parse(code.strip()).body[0]
    if not isinstance(node, (ast.Import, ast.ImportFrom)):
        return []
    if isinstance(node, ast.Import):
        return [alias.asname or alias.name.partition(".")[0] for alias in node.names]
    return [alias.asname or alias.name for alias in node.names if alias.name != "*"]


class FailedImport:
    """Stands for what a failed ``$import`` would have bound; using it raises the import's error.

    MONAI binds such a stand-in too, so a config whose failing import is never used still resolves.
    """

    def __init__(self, error: Exception) -> None:
        object.__setattr__(self, "_error", error)

    def _fail(self, *_args: Any, **_kwargs: Any) -> Any:
        raise object.__getattribute__(self, "_error")

    __call__ = __getitem__ = __iter__ = _fail

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        self._fail()

    def __repr__(self) -> str:
        return f"<failed import: {object.__getattribute__(self, '_error')}>"


def compile_expression(code: str) -> tuple[CodeType, frozenset[str]]:
    """Compile expression code once (cached by text); also return every global name it may read."""
    hit = _CODE_CACHE.get(code)
    if hit is None:
        try:
            compiled = compile(code.strip(), "<config expression>", "eval")
        except (RecursionError, MemoryError) as e:
            # CPython's compiler recurses per operator: a very long chain overflows it. Reported
            # as the SyntaxError every caller already turns into a located expression error.
            raise SyntaxError(
                f"too long or too deeply nested for Python to compile ({len(code):,} characters)"
            ) from e
        hit = (compiled, frozenset(_names(compiled)))
        if len(_CODE_CACHE) >= _CODE_CACHE_SIZE:
            _CODE_CACHE.clear()
        _CODE_CACHE[code] = hit
    return hit


def _names(code: CodeType) -> set[str]:
    # Names read inside lambdas and comprehensions live in nested code objects.
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _names(const)
    return names


class Names:
    """The global names ``$`` expressions of one parser see.

    Args:
        globals: Extra names: a value that is a string is a module name, imported when first used;
            any other value is used as is. ``False`` also drops MONAI's default names.
    """

    def __init__(self, globals: Mapping[str, Any] | bool | None = None) -> None:  # noqa: A002 - MONAI's name
        self.loaded: dict[str, Any] = {}
        self.pending: dict[str, str] = {}
        given = dict(globals) if isinstance(globals, Mapping) else {}
        for name, value in ({} if globals is False else DEFAULT_GLOBALS | given).items():
            if isinstance(value, str):
                self.pending[name] = value
            else:
                self.loaded[name] = value

    def copy(self) -> Names:
        """Return an independent copy (later imports in one do not show in the other)."""
        other = Names(False)
        other.loaded = dict(self.loaded)
        other.pending = dict(self.pending)
        return other

    def evaluate(self, code: str, refs: Mapping[str, Any]) -> Any:
        """Evaluate expression code with ``refs`` as the objects its ``@id``s stand for.

        Raises:
            Exception: Whatever compiling or evaluating raises; the caller adds id and location.
        """
        compiled, used = compile_expression(code)
        for name in used & self.pending.keys():
            module = self.pending.pop(name)
            try:
                self.loaded[name] = importlib.import_module(module)
            except ImportError:
                pass  # as in MONAI: the name stays undefined and the expression reports it
        scope = dict(self.loaded)
        scope[LOCAL_REFS] = refs
        return eval(compiled, scope)  # noqa: S307 - evaluating config expressions is the feature

    def run_import(self, code: str) -> Any:
        """Run an import statement, adding its names; return the (first) module or object imported.

        Raises:
            ImportError: A module or name that does not import.
        """
        node = ast.parse(code.strip()).body[0]
        first = None
        if isinstance(node, ast.Import):
            for alias in node.names:
                module = importlib.import_module(alias.name)
                if alias.asname:
                    self.loaded[alias.asname] = module
                else:  # `import a.b` binds `a`, as in Python
                    top = alias.name.partition(".")[0]
                    self.loaded[top] = importlib.import_module(top)
                self.pending.pop(alias.asname or alias.name.partition(".")[0], None)
                first = module if first is None else first
            return first
        if not isinstance(node, ast.ImportFrom):
            raise ImportError(f"not an import statement: '{code.strip()}'")
        if node.level or not node.module:
            raise ImportError(f"relative imports are not supported in config expressions: '{code.strip()}'")
        module = importlib.import_module(node.module)
        for alias in node.names:
            if alias.name == "*":
                public = getattr(module, "__all__", [n for n in vars(module) if not n.startswith("_")])
                self.loaded.update({n: getattr(module, n) for n in public})
                first = module if first is None else first
                continue
            if hasattr(module, alias.name):
                obj = getattr(module, alias.name)
            else:
                obj = importlib.import_module(f"{node.module}.{alias.name}")
            self.loaded[alias.asname or alias.name] = obj
            self.pending.pop(alias.asname or alias.name, None)
            first = obj if first is None else first
        return first
