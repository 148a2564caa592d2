"""Safe mode's judgement of ``$`` expressions and ``$import`` lines, read as Python syntax trees.

An expression passes safe mode only if every part of it is one of these, checked on its syntax
tree before anything runs:

* literals, arithmetic, comparisons, ``and``/``or``/``not``, ``x if c else y``, subscripts,
  tuples, lists, dicts, f-strings, and ``lambda`` (its parameters become names it may use);
* ``@id`` references (objects the config builds, each judged where it is written);
* ``torch.…`` / ``monai.…`` (or a module an allowed ``$import`` binds): the member named is judged
  exactly as a ``_target_`` is (:func:`~lighter.config.safe_list.judge_target`), so
  ``$torch.randn(4, 2)`` passes and ``$torch.load('x.pt')`` does not;
* a public attribute of a value (``@system#model.parameters``, ``logits.argmax``); calling it with
  arguments only for the reviewed methods of :data:`METHODS`, and without arguments otherwise;
* calling a reference, a lambda parameter, or one of the plain builtins of :data:`BUILTINS`.

Anything else (another name, a private attribute, ``*args``, calling what a call returns,
comprehensions, ``:=``) is refused.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Mapping

from lighter.config.ids import LOCAL_REFS
from lighter.config.safe_list import ROOTS, Allowed, hard_denied, judge_target, resolve

__all__ = ["BUILTINS", "METHODS", "DEFAULT_BINDINGS", "judge_expression", "judge_import"]

BUILTINS = frozenset(
    "len range min max abs round sum int float str bool tuple list dict zip enumerate sorted reversed any all".split()
)
"""Builtins an expression may call: they convert and count, and reach no file, module or code."""

METHODS = frozenset(
    (
        "argmax argmin max min sum mean std var prod float double half long int bool sigmoid softmax "
        "log_softmax squeeze unsqueeze view reshape permute transpose flatten to cpu detach clone round "
        "clamp abs exp log eq ne gt lt ge le item tolist numpy split strip join lower upper startswith endswith"
    ).split()
)
"""Methods a value may be called with arguments: tensor and string methods, reviewed so that none of
them names a function of a common module that runs, opens, loads or deletes anything."""

DEFAULT_BINDINGS = {"torch": "torch", "monai": "monai", "np": "numpy", "numpy": "numpy"}
"""The module names every expression sees (MONAI's defaults), as ``name -> module``."""

_PLAIN = (
    ast.Expression, ast.Constant, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp,
    ast.Tuple, ast.List, ast.Dict, ast.Slice, ast.JoinedStr, ast.FormattedValue, ast.Load,
    ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)  # fmt: skip


class _Refused(Exception):
    pass


def judge_expression(
    code: str, allowed: Allowed, bindings: Mapping[str, str] = DEFAULT_BINDINGS
) -> str | None:
    """Why safe mode refuses expression ``code`` (``@id`` already substituted), or ``None``.

    Args:
        code: Python code with each ``@id`` written as ``__local_refs['id']``.
        allowed: What the user allows besides the defaults.
        bindings: Names bound to modules or objects, as ``name -> dotted name``.
    """
    try:
        tree = ast.parse(code.strip(), mode="eval")
    except SyntaxError:
        return None  # it cannot run: the resolver reports the syntax error
    try:
        _Checker(allowed, bindings).visit(tree)
    except _Refused as refused:
        return str(refused)
    return None


def judge_import(code: str, allowed: Allowed) -> tuple[str | None, dict[str, str]]:
    """Judge an import statement; return why it is refused (or ``None``) and the names it binds."""
    node = ast.parse(code.strip()).body[0]
    bound: dict[str, str] = {}
    if isinstance(node, ast.Import):
        for alias in node.names:
            why = _judge_module(alias.name, allowed)
            if why is not None:
                return why, {}
            top = alias.name.partition(".")[0]
            bound[alias.asname or top] = alias.name if alias.asname else top
        return None, bound
    assert isinstance(node, ast.ImportFrom)  # is_import_statement said so
    if node.level or not node.module:
        return None, {}  # not supported at all: the resolver reports it
    for alias in node.names:
        if alias.name == "*":
            return f"safe mode refuses 'from {node.module} import *' (name what it imports)", {}
        dotted = f"{node.module}.{alias.name}"
        why = _judge_module(node.module, allowed)
        if why is None:
            try:
                is_module = inspect.ismodule(resolve(dotted))
            except Exception:  # noqa: BLE001 - it does not import: the resolver reports it
                is_module = False
            why = (
                _judge_module(dotted, allowed) if is_module else judge_target(dotted, allowed, value_ok=True)
            )
        if why is not None:
            return why, {}
        bound[alias.asname or alias.name] = dotted
    return None, bound


def _judge_module(name: str, allowed: Allowed) -> str | None:
    hard = hard_denied(name)
    if hard is not None and not allowed.exactly(name):
        return f"safe mode refuses importing '{name}' whatever is allowed: {hard}"
    if name.partition(".")[0] in ROOTS or allowed.covers(name):
        return None
    top = name.partition(".")[0]
    return f"safe mode refuses importing '{name}': it is not an allowed package (allow it with --allow {top})"


def _is_reference(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id == LOCAL_REFS
        and isinstance(node.slice, ast.Constant)
    )


class _Checker:
    def __init__(self, allowed: Allowed, bindings: Mapping[str, str]) -> None:
        self.allowed = allowed
        self.bindings = dict(bindings)
        self.params: list[set[str]] = []

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.Call):
            self.call(node)
        elif isinstance(node, (ast.Attribute, ast.Name)):
            self.chain(node, called=False)
        elif isinstance(node, ast.Lambda):
            self.lambda_(node)
        elif isinstance(node, ast.Subscript):
            if not _is_reference(node):
                self.visit(node.value)
                self.visit(node.slice)
        elif isinstance(node, _PLAIN):
            for child in ast.iter_child_nodes(node):
                self.visit(child)
        else:
            raise _Refused(f"safe mode refuses {type(node).__name__} in an expression")

    def lambda_(self, node: ast.Lambda) -> None:
        args = node.args
        for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self.visit(default)
        names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        self.params.append(names)
        try:
            self.visit(node.body)
        finally:
            self.params.pop()

    def call(self, node: ast.Call) -> None:
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise _Refused("safe mode refuses '*' arguments in an expression")
            self.visit(arg)
        for keyword in node.keywords:
            if keyword.arg is None:
                raise _Refused("safe mode refuses '**' arguments in an expression")
            self.visit(keyword.value)
        func = node.func
        if isinstance(func, (ast.Attribute, ast.Name)):
            literal = {k.arg: k.value.value for k in node.keywords if isinstance(k.value, ast.Constant)}
            self.chain(func, called=True, with_arguments=bool(node.args or node.keywords), keywords=literal)
        elif isinstance(func, ast.Call):
            # What a call returns is unknown at check time: calling it again could reach anything.
            raise _Refused("safe mode refuses calling what a call returns in an expression")
        else:
            self.visit(func)

    def chain(
        self, node: ast.AST, *, called: bool, with_arguments: bool = False, keywords: Mapping | None = None
    ) -> None:
        attrs: list[str] = []
        root = node
        while isinstance(root, ast.Attribute):
            attrs.insert(0, root.attr)
            root = root.value
        if isinstance(root, ast.Name) and not any(root.id in p for p in self.params):
            name = root.id
            if name in self.bindings:
                return self.module_member(self.bindings[name], attrs, called, keywords)
            if name in BUILTINS:
                return self.value_attributes(attrs, called, with_arguments)
            raise _Refused(
                f"safe mode refuses the name '{name}' in an expression (only references, lambda "
                "parameters, torch, monai and allowed imports)"
            )
        if not isinstance(root, ast.Name):
            self.visit(root)
        self.value_attributes(attrs, called, with_arguments)

    def module_member(self, module: str, attrs: list[str], called: bool, keywords: Mapping | None) -> None:
        dotted = ".".join([module, *attrs])
        if not attrs:
            try:
                is_module = inspect.ismodule(resolve(module))
            except Exception:  # noqa: BLE001 - not importable: the expression fails on its own
                return
            if is_module:
                raise _Refused(f"safe mode refuses a module as a value: '{module}'")
            return  # a name bound by an allowed `$from … import`: judged there
        why = judge_target(dotted, self.allowed, keywords, value_ok=not called)
        if why is not None:
            raise _Refused(why)

    def value_attributes(self, attrs: list[str], called: bool, with_arguments: bool) -> None:
        for attr in attrs:
            if attr.startswith("_"):
                raise _Refused(f"safe mode refuses private attributes in an expression: '.{attr}'")
            hard = hard_denied(attr)
            if hard is not None:
                raise _Refused(f"safe mode refuses '.{attr}' in an expression: {hard}")
        if called and with_arguments and attrs and attrs[-1] not in METHODS:
            raise _Refused(
                f"safe mode refuses calling '.{attrs[-1]}' with arguments in an expression "
                "(only the reviewed tensor and string methods take arguments)"
            )
