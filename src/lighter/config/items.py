"""MONAI's config item classes (``ConfigItem``, ``ConfigComponent``, ``ConfigExpression``, ``ComponentLocator``).

Code written against ``monai.bundle`` builds these by hand: one item per id, then a
:class:`~lighter.config.reference_resolver.ReferenceResolver` over them, or ``instantiate()``/
``evaluate()`` on a single item. They are thin facades: importing, argument checking, calling and
expression evaluation are lighter's own (:mod:`.components`, :mod:`.expressions`), so a mistake
raises the same :class:`~lighter.errors.LighterError` as in a config file, and the error kinds
a MONAI user catches (``RuntimeError`` for a failed call or expression) still catch it.
:class:`~lighter.config.ConfigParser` never goes through these classes: its fast path resolves
its node table directly.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import warnings
from collections.abc import Mapping, Sequence
from pprint import pformat
from typing import Any

from lighter.config import ids
from lighter.config.components import RESERVED_KEYS, call_target, is_disabled, locate
from lighter.config.expressions import (
    FailedImport,
    Names,
    bound_names,
    compile_expression,
    is_import_statement,
)
from lighter.errors import ExpressionError

__all__ = ["ConfigItem", "ConfigComponent", "ConfigExpression", "ComponentLocator"]


class ComponentLocator:
    """Find the module of a MONAI class or function from its bare name (``LoadImaged``).

    Bundles may write ``_target_: LoadImaged``; this maps such a name to the module that defines it,
    among the loaded modules whose name starts with :attr:`MOD_START`.

    Args:
        excludes: Module-name fragments to leave out of the search (``"metrics"`` skips
            ``monai.metrics.*``).
    """

    MOD_START = "monai"

    def __init__(self, excludes: Sequence[str] | str | None = None) -> None:
        self.excludes = (
            [] if excludes is None else [excludes] if isinstance(excludes, str) else list(excludes)
        )
        self._components_table: dict[str, list[str]] | None = None

    def _find_module_names(self) -> list[str]:
        try:  # importing monai loads its submodules, which is what makes the names findable
            importlib.import_module(self.MOD_START)
        except ImportError:
            return []
        return [
            name
            for name in list(sys.modules)
            if name.startswith(self.MOD_START) and not any(part in name for part in self.excludes)
        ]

    def _find_classes_or_functions(self, modnames: Sequence[str] | str) -> dict[str, list[str]]:
        table: dict[str, list[str]] = {}
        for modname in [modnames] if isinstance(modnames, str) else modnames:
            module = sys.modules.get(modname)
            if module is None:
                continue
            for name, obj in list(vars(module).items()):
                # only what the module defines itself, not what it imported from elsewhere
                if (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__ == modname:
                    table.setdefault(name, []).append(modname)
        return table

    def get_component_module_name(self, name: str) -> list[str] | str | None:
        """Return the module defining ``name``, a list when several do, or ``None`` when none does.

        Raises:
            ValueError: ``name`` is not a string.
        """
        if not isinstance(name, str):
            raise ValueError(f"a component name must be a string, not {type(name).__name__}: {name!r}")
        if self._components_table is None:
            self._components_table = self._find_classes_or_functions(self._find_module_names())
        found = self._components_table.get(name)
        return found[0] if found is not None and len(found) == 1 else found


class ConfigItem:
    """One id of a config and its raw value.

    Args:
        config: The value (any type).
        id: Its id (``"system#optimizer"``; ``""`` is the root).
    """

    def __init__(self, config: Any, id: str = "") -> None:  # noqa: A002 - MONAI's signature
        self.config = config
        self.id = id

    def get_id(self) -> str:
        """The id of this item."""
        return self.id

    def update_config(self, config: Any) -> None:
        """Replace the value (e.g. with its references resolved)."""
        self.config = config

    def get_config(self) -> Any:
        """The value."""
        return self.config

    def __repr__(self) -> str:
        return f"{type(self).__name__}: \n{pformat(self.config)}"


class ConfigComponent(ConfigItem):
    """A ``_target_`` item that :meth:`instantiate` builds.

    Reserved keys are those of a config file (``_target_``, ``_requires_``, ``_disabled_``,
    ``_mode_``, ``_desc_``, lighter's ``_args_``); every other key is a keyword argument, passed
    as it is (nested dicts are not built: resolve the item first, e.g. through a
    :class:`~lighter.config.reference_resolver.ReferenceResolver`).

    Args:
        config: The component's dict.
        id: Its id.
        locator: Finds the module of a bare MONAI name in ``_target_``; by default a
            ``ComponentLocator(excludes=excludes)``.
        excludes: Module-name fragments the default locator leaves out.
    """

    non_arg_keys = set(RESERVED_KEYS)

    def __init__(
        self,
        config: Any,
        id: str = "",  # noqa: A002
        locator: ComponentLocator | None = None,
        excludes: Sequence[str] | str | None = None,
    ) -> None:
        super().__init__(config=config, id=id)
        self.locator = ComponentLocator(excludes=excludes) if locator is None else locator

    @staticmethod
    def is_instantiable(config: Any) -> bool:
        """Whether ``config`` is a component (a mapping with ``_target_``)."""
        return isinstance(config, Mapping) and "_target_" in config

    def resolve_module_name(self) -> Any:
        """The full dotted path of ``_target_`` (a bare MONAI name gets its module); a callable as it is."""
        target = dict(self.get_config()).get("_target_")
        if not isinstance(target, str) or "." in target:
            return target
        module = self.locator.get_component_module_name(target)
        if module is None:
            return target
        if isinstance(module, list):
            warnings.warn(
                f"'{target}' is defined in several modules ({', '.join(module)}); using '{module[0]}' "
                "(write the full dotted path in _target_ to choose)",
                stacklevel=2,
            )
            module = module[0]
        return f"{module}.{target}"

    def resolve_args(self) -> dict[str, Any]:
        """The keyword arguments: every key that is not reserved."""
        return {k: v for k, v in self.get_config().items() if k not in self.non_arg_keys}

    def is_disabled(self) -> bool:
        """Whether ``_disabled_`` is set (``true`` or the string ``"true"`` in any case)."""
        return is_disabled(self.get_config().get("_disabled_", False))

    def instantiate(self, **kwargs: Any) -> object:
        """Build the component; ``None`` when it is disabled or not a component.

        Args:
            **kwargs: Arguments added to (or replacing) the config's.

        Raises:
            TargetImportError: ``_target_`` cannot be imported (an ``ImportError``).
            ArgumentError: Arguments that do not fit the target (also a ``RuntimeError``).
            InstantiationError: The target raised (a ``RuntimeError``, as in MONAI).
        """
        config = self.get_config()
        if not self.is_instantiable(config) or self.is_disabled():
            return None
        id_ = self.id or None
        target = self.resolve_module_name()
        name = target if isinstance(target, str) else getattr(target, "__qualname__", repr(target))
        if isinstance(target, str):
            target = locate(target, id=id_, location=None, excludes=self.locator.excludes)
        args = self.resolve_args()
        args.update(kwargs)
        debug = is_disabled(args.pop("_debug_", False))
        positional = list(config.get("_args_", ()))
        return call_target(
            target,
            str(name),
            config.get("_mode_", "default"),
            positional,
            args,
            id=id_,
            where=lambda _key: None,
            debug=debug,
        )


class ConfigExpression(ConfigItem):
    """A ``$`` item that :meth:`evaluate` runs: a Python expression or an import statement.

    Args:
        config: The ``$`` string.
        id: Its id.
        globals: Names the expression sees. An import statement adds the names it binds to this
            very mapping (as in MONAI), so later expressions given the same dict see them.
    """

    prefix = ids.EXPR
    run_eval = True

    def __init__(self, config: Any, id: str = "", globals: dict | None = None) -> None:  # noqa: A002
        super().__init__(config=config, id=id)
        self.globals = globals if globals is not None else {}

    def evaluate(self, globals: dict | None = None, locals: dict | None = None) -> Any:  # noqa: A002
        """Run the expression; ``None`` when the value is not an expression.

        Args:
            globals: More names, for this call only (a name also in ``self.globals`` wins, with a warning).
            locals: Local names for ``eval``.

        Returns:
            The expression's value; for an import statement, the (first) module or object imported;
            with ``run_eval = False``, the code as text.

        Raises:
            ExpressionError: The expression fails (a ``RuntimeError``, as in MONAI).
        """
        value = self.get_config()
        if not self.is_expression(value):
            return None
        code = value[len(self.prefix) :]
        if is_import_statement(code):
            return self._run_import(code)
        if not self.run_eval:
            return code
        scope = dict(self.globals)
        for name, given in (globals or {}).items():
            if name in scope and scope[name] is not given:
                warnings.warn(f"expression global '{name}' given again: the new value wins", stacklevel=2)
            scope[name] = given
        try:
            return eval(compile_expression(code)[0], scope, locals)  # noqa: S307 - the feature
        except Exception as e:
            from lighter.config.problems import expression_error

            raise expression_error(value, e, self.id or None, None) from e

    def _run_import(self, code: str) -> Any:
        names = Names(False)
        try:
            first = names.run_import(code)
        except Exception as e:  # noqa: BLE001 - as in MONAI, a failed import fails where it is used
            error = ExpressionError(
                f"'{self.get_config()}' failed: {type(e).__name__}: {e}", id=self.id or None
            )
            error.__cause__ = e
            first = stand_in = FailedImport(error)
            names.loaded.update(dict.fromkeys(bound_names(code), stand_in))
        self.globals.update(names.loaded)
        return first

    @classmethod
    def is_expression(cls, config: Any) -> bool:
        """Whether ``config`` is a ``$`` string."""
        return isinstance(config, str) and config.startswith(cls.prefix)

    @classmethod
    def is_import_statement(cls, config: Any) -> bool:
        """Whether ``config`` is a ``$import …`` or ``$from … import …`` string."""
        return cls.is_expression(config) and is_import_statement(config[len(cls.prefix) :])
