"""The ``lighter`` command: ``lighter <stage> CONFIG [--id=value ...]``.

One subcommand per row of the stage table, plus ``check`` and ``show`` to inspect a config
without running it. Torch, Lightning and MONAI are imported only inside a
command's body, so ``lighter --help`` and ``lighter <stage> --help`` answer instantly.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import click
import typer
from typer.core import TyperCommand

from lighter._version import __version__
from lighter.engine.stages import STAGES, Stage, StageSpec

__all__ = ["app", "main", "DEBUG_ENV"]

DEBUG_ENV = "LIGHTER_DEBUG"
_MAX_ERROR_LINES = 30  # an error must fit on one screen

_CONFIG_HELP = (
    "Experiment config: a YAML/JSON file, or several (config1.yaml config2.yaml, or "
    "config1.yaml,config2.yaml), merged in order so later files win. --config=FILES "
    "(the original Lighter's form) works too."
)
# What a run folder given as CONFIG means, for the commands that take one.
_RUN_FOLDER_HELP = {
    Stage.FIT: "A run folder continues that run from its last checkpoint.",
    Stage.VALIDATE: "A run folder validates its best checkpoint, writing into a new sub-folder of it.",
    Stage.TEST: "A run folder tests its best checkpoint, writing into a new sub-folder of it.",
    Stage.PREDICT: "A run folder predicts with its best checkpoint, writing into a new sub-folder of it.",
}
# "\b" keeps click from re-wrapping the paragraph that follows it.
_OVERRIDES_HELP = """\b
Override any config value with --ID=VALUE (or --ID VALUE), where ID joins
keys with '#' and VALUE is parsed as YAML 1.2 (3 and 1e-3 are numbers, [1,2]
a list, null is None; $expr and @id work too). As in config files, --~ID
deletes a key, --+ID=[...] appends, --=ID=... replaces:

\b
  lighter {stage} experiment.yaml --trainer#max_epochs=3
  lighter {stage} a.yaml b.yaml --system#optimizer#lr 1e-3 --~system#scheduler
  lighter {stage} --config=a.yaml,b.yaml --trainer#max_epochs=3

\b
Stage arguments (passed to the Lightning call) live under args#{stage},
in the config or as --args#{stage}#NAME=VALUE.
"""

# Parameters every command takes, declared once.
# Optional for click: CONFIG may also come as --config=FILES, or after the overrides, so the
# command's arguments are sorted out by `split_command_line` (see `_arguments`).
_CONFIG = typer.Argument(None, metavar="CONFIG", help=_CONFIG_HELP, show_default=False)


def _stage_config(stage: Stage) -> Any:
    """The CONFIG argument of ``stage``'s command: what a run folder means there, if anything."""
    extra = _RUN_FOLDER_HELP.get(stage)
    text = f"{_CONFIG_HELP} {extra}" if extra else _CONFIG_HELP
    return typer.Argument(None, metavar="CONFIG", help=text, show_default=False)


_DEBUG = typer.Option(False, "--debug", help=f"Show full tracebacks (or set {DEBUG_ENV}=1).")

app = typer.Typer(
    name="lighter",
    help="Run a deep-learning experiment defined in YAML: lighter <stage> CONFIG [--id=value ...]",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lighter {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Run a deep-learning experiment defined in YAML: lighter <stage> CONFIG [--id=value ...]"""


def _debug_requested(flag: bool) -> bool:
    # Read when a command runs, not at import, so the variable can be set per invocation.
    return flag or os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _short(message: str) -> str:
    lines = message.splitlines()
    if len(lines) <= _MAX_ERROR_LINES:
        return message
    rest = len(lines) - _MAX_ERROR_LINES
    return "\n".join([*lines[:_MAX_ERROR_LINES], f"... ({rest} more lines; --debug shows everything)"])


def _arguments(command: str, ctx: click.Context, config: str | None) -> tuple[str, list[str]]:
    """The command's config (comma-joined paths) and overrides, from all its arguments in order.

    Click hands the first leftover argument to CONFIG, whatever it is, and the rest to
    ``ctx.args``; put back together, they are the arguments as typed (less the declared options).
    """
    from lighter.config.command_line import split_command_line

    return split_command_line(command, [config, *ctx.args] if config is not None else list(ctx.args))


def _guarded(action: Callable[[], int | None], debug: bool) -> None:
    """Run ``action``; a :class:`~lighter.errors.LighterError` becomes a message and its exit status.

    ``action`` may return an exit status of its own (``lighter check`` returns 1 for problems).
    """
    from lighter.errors import Interrupted, LighterError, UserCodeError

    debug = _debug_requested(debug)
    try:
        status = action()
    except LighterError as error:
        if debug:
            traceback.print_exc()
        elif isinstance(error, UserCodeError) and error.__cause__ is not None:
            _print_user_traceback(error.__cause__)
            typer.echo(str(error), err=True)
        else:
            typer.echo(_short(str(error)), err=True)
            if not isinstance(error, Interrupted):  # a stop on request has no traceback worth seeing
                typer.echo("(run with --debug for the full traceback)", err=True)
        raise typer.Exit(getattr(error, "exit_status", 1)) from None
    if status:
        raise typer.Exit(status)


def _print_user_traceback(error: BaseException) -> None:
    """The user's own frames of ``error`` (lighter's and Lightning's are left out; --debug has them)."""
    from lighter.engine.failures import user_frames

    lines = ["Traceback (most recent call last; --debug also shows lighter's and Lightning's frames):\n"]
    lines += traceback.format_list(user_frames(error))
    lines += traceback.format_exception_only(type(error), error)
    typer.echo("".join(lines).rstrip("\n"), err=True)


def run_stage(
    stage: Stage,
    arguments: Callable[[], tuple[str, list[str]]],
    debug: bool = False,
    safe: bool = False,
    allow: Sequence[str] = (),
) -> None:
    """Run ``stage``; a :class:`~lighter.errors.LighterError` becomes a message and its exit status.

    ``arguments`` gives ``(config, overrides)``; a mistake in them is reported like any other.
    """

    def action() -> None:
        from lighter.config.safety import safe_requested
        from lighter.engine.runner import run
        from lighter.lightning_tips import lightning_tips_silenced

        config, overrides = arguments()
        with lightning_tips_silenced():
            # Read per invocation: LIGHTER_SAFE turns safe mode on for every command of a session.
            run(stage, config, list(overrides), safe=safe_requested(safe), allow=list(allow))

    _guarded(action, debug)


class _StageCommand(TyperCommand):
    """A stage's command, whose usage line shows the order the command needs: CONFIG first."""

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        flags = [
            f"[{option.opts[0]}]"
            if option.is_flag
            else f"[{option.opts[0]} {option.metavar or option.name.upper()}]"
            for option in self.params
            if option.param_type_name == "option" and option.opts[0] != "--help"
        ]
        return ["(CONFIG... | --config=CONFIG)", *flags, "[--ID=VALUE ...]"]


def _command(stage: Stage) -> Callable[..., None]:
    def command(
        ctx: typer.Context,
        config: str | None = _stage_config(stage),
        debug: bool = _DEBUG,
        safe: bool = typer.Option(
            False,
            "--safe",
            help="For a config you did not write: refuse every target, $ expression and $import that "
            "safe mode's allow-list does not cover, before anything runs (or set LIGHTER_SAFE=1).",
        ),
        allow: list[str] | None = typer.Option(  # noqa: B008 - typer reads its options from defaults
            None,
            "--allow",
            metavar="PACKAGE",
            help="In safe mode, also allow PACKAGE, or one dotted name ('project' allows the project "
            "folder); repeatable, or LIGHTER_ALLOW=a,b.",
        ),
    ) -> None:
        run_stage(stage, lambda: _arguments(stage.value, ctx, config), debug, safe, allow or ())

    command.__name__ = stage.value
    return command


def _register(stage: Stage, spec: StageSpec) -> None:
    app.command(
        name=stage.value,
        help=spec.summary,
        short_help=spec.summary,
        epilog=_OVERRIDES_HELP.format(stage=stage.value),
        cls=_StageCommand,
        # Overrides are options click does not know: collect them untouched in ctx.args.
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(_command(stage))


for _stage, _spec in STAGES.items():
    _register(_stage, _spec)

_SWEEP_SUMMARY = "Search hyperparameters with Optuna: one fit per trial, as the sweep section says."
_SWEEP_HELP = """\b
The config's sweep section names the values to search, the logged value
to optimize and the number of trials (see docs/sweeps.md):

\b
  sweep:
    monitor: val/metrics/accuracy/epoch
    direction: maximize
    trials: 20
    params:
      lr: {id: system#optimizer#lr, log_uniform: [1.0e-5, 1.0e-1]}

\b
Run the same command again to continue the study; run it in several
processes (or machines, with sweep#storage a shared database) to share
the trials. Overrides work as for fit: --sweep#trials=30 --trainer#max_epochs=5
"""


@app.command(
    name="sweep",
    help=_SWEEP_SUMMARY,
    short_help=_SWEEP_SUMMARY,
    epilog=_SWEEP_HELP,
    cls=_StageCommand,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def _sweep(
    ctx: typer.Context,
    config: str | None = _CONFIG,
    debug: bool = _DEBUG,
    safe: bool = typer.Option(
        False,
        "--safe",
        help="Safe mode for the sweep and every trial (see docs/safe_mode.md; or LIGHTER_SAFE=1).",
    ),
    allow: list[str] | None = typer.Option(  # noqa: B008 - typer reads its options from defaults
        None,
        "--allow",
        metavar="PACKAGE",
        help="In safe mode, also allow PACKAGE, or one dotted name ('project': the project folder).",
    ),
) -> None:
    def action() -> None:
        from lighter.config.safety import safe_requested
        from lighter.engine.sweep import run_sweep

        files, overrides = _arguments("sweep", ctx, config)
        run_sweep(
            files,
            overrides,
            say=lambda line: typer.echo(line),
            safe=safe_requested(safe),
            allow=allow or (),
        )

    _guarded(action, debug)


# --- inspecting a config without running it -----------------------------------------------------

_INSPECT_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True}
_STAGE_HELP = "Prune for this stage and check/show only what it builds."


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


@app.command(
    name="check",
    help="Check a whole config without building anything: targets, arguments and their types, "
    "references, expressions, structure and the stage's parts. Prints every problem at once; "
    "exit status 1 if there is any. Without --stage, the whole config is checked, for each stage "
    "whose dataloader it sets up (fit when none).",
    short_help="Check a config without running it (every problem at once).",
    cls=_StageCommand,
    context_settings=_INSPECT_SETTINGS,
)
def check(
    ctx: typer.Context,
    config: str | None = _CONFIG,
    stage: Stage | None = typer.Option(None, "--stage", help=_STAGE_HELP, show_default=False),  # noqa: B008
    safe: bool = typer.Option(
        False,
        "--safe",
        help="List every place that would run code ($ expressions, $import, targets, the project "
        "folder) and fail on what safe mode refuses, building nothing (or set LIGHTER_SAFE=1).",
    ),
    allow: list[str] | None = typer.Option(  # noqa: B008 - typer reads its options from defaults
        None,
        "--allow",
        metavar="PACKAGE",
        help="In safe mode, also allow PACKAGE, or one dotted name ('project': the project folder).",
    ),
    debug: bool = _DEBUG,
) -> None:
    def action() -> int:
        from lighter.config.safety import safe_requested
        from lighter.engine.check import check_config
        from lighter.errors import ValidationError

        files, overrides = _arguments("check", ctx, config)
        safe_mode = safe_requested(safe)
        report = check_config(files, overrides, stage, safe=safe_mode, allow=allow or ())
        if safe_mode:
            typer.echo(f"{_count(len(report.sites), 'place')} in {files} would run code:")
            for site in report.sites:
                typer.echo(f"  {site}")
        stages = ", ".join(s.value for s in report.stages) + (" and its sweep" if report.sweep else "")
        if report.ok:
            counts = ", ".join(
                _count(n, what)
                for n, what in (
                    (report.components, "component"),
                    (report.references, "reference"),
                    (report.expressions, "expression"),
                )
            )
            typer.echo(f"OK: {files} is ready for {stages} ({counts} checked; nothing built)")
            return 0
        problems = [p for e in report.problems for p in (e.errors if isinstance(e, ValidationError) else [e])]
        for problem in problems:
            typer.echo(str(problem), err=True)
        typer.echo(
            f"{_count(len(problems), 'problem')} in {files} (checked for {stages}; nothing built)", err=True
        )
        return 1

    _guarded(action, debug)


@app.command(
    name="show",
    help="Print the merged config (after overrides; pruned with --stage) as YAML, each value "
    "followed by where it came from (file:line or command line). With --resolved, % macros are "
    "expanded and each @ reference says what it stands for. Nothing is built.",
    short_help="Print the merged config with where each value came from.",
    cls=_StageCommand,
    context_settings=_INSPECT_SETTINGS,
)
def show(
    ctx: typer.Context,
    config: str | None = _CONFIG,
    stage: Stage | None = typer.Option(None, "--stage", help=_STAGE_HELP, show_default=False),  # noqa: B008
    resolved: bool = typer.Option(False, "--resolved", help="Expand % macros; say what each @ stands for."),
    debug: bool = _DEBUG,
) -> None:
    def action() -> int:
        from lighter.engine.show import show_config

        files, overrides = _arguments("show", ctx, config)
        typer.echo(show_config(files, overrides, stage, resolved), nl=False)
        return 0

    _guarded(action, debug)


# --- runs: list, compare and plot runs from their records (no torch import) ---------------------

_RUNS_HELP = """\
List the runs under ROOT (default: the current folder; every folder holding a run.json), one row
per run with only the config values that differ between them; or compare and plot runs.

\b
  lighter runs [ROOT] [--format table|csv|json|markdown] [--sort [-]COLUMN]
  lighter runs diff RUN_A RUN_B
  lighter runs plot RUN ... [--metric NAME ...] [--out FILE.png]
"""


class _RunsGroup(typer.core.TyperGroup):
    """``lighter runs [ROOT]`` lists: a first argument that names no subcommand goes to ``list``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["list", *args]
        return super().parse_args(ctx, args)


class _RunsCommand(TyperCommand):
    """A ``runs`` subcommand whose usage line names its arguments and options as its help does."""

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        pieces = []
        for param in self.params:
            if param.param_type_name == "argument":
                name = (param.metavar or param.name.upper()) + (" ..." if param.nargs == -1 else "")
                pieces.append(name if param.required else f"[{name}]")
            elif param.opts[0] != "--help":
                pieces.append(
                    f"[{param.opts[0]}]"
                    if param.is_flag
                    else f"[{param.opts[0]} {param.metavar or param.name.upper()}]"
                )
        return pieces


runs_app = typer.Typer(
    name="runs", cls=_RunsGroup, help=_RUNS_HELP, rich_markup_mode=None, pretty_exceptions_enable=False
)
app.add_typer(runs_app, name="runs", short_help="List, compare and plot runs from their folders' records.")


def _say_err(line: str) -> None:
    typer.echo(line, err=True)


@runs_app.command(
    name="list",
    cls=_RunsCommand,
    help="One row per run under ROOT: folder, stages, outcome, start, duration, a sweep trial's params, "
    "the config values that differ between the runs, the best monitored value and the final metrics. "
    "A record that cannot be read is skipped with a note. Reads records only (nothing is imported).",
)
def _runs_list(
    root: str = typer.Argument(".", metavar="ROOT", help="Folder searched for runs.", show_default=False),
    fmt: str = typer.Option("table", "--format", metavar="table|csv|json|markdown", help="Output format."),
    sort: str | None = typer.Option(
        None,
        "--sort",
        metavar="[-]COLUMN",
        help="Sort by a column (a metric, a config id, best, start...); "
        "a leading '-' sorts descending: --sort=-val/metrics/accuracy/epoch.",
        show_default=False,
    ),
    metric: list[str] | None = typer.Option(  # noqa: B008 - typer reads its options from defaults
        None,
        "--metric",
        metavar="NAME",
        help="Show only these metrics (names or globs such as 'test/*'); repeatable (default: all).",
        show_default=False,
    ),
    debug: bool = _DEBUG,
) -> None:
    def action() -> None:
        from lighter.inspect.runs import list_runs

        text, notes = list_runs(root, fmt, sort, metric or ())
        for note in notes:
            _say_err(note)
        typer.echo(text, nl=False)

    _guarded(action, debug)


@runs_app.command(
    name="diff",
    cls=_RunsCommand,
    help="Every config value that differs between two runs, both values and where each was written "
    "(file:line or command line), then their differing outcome and metrics.",
)
def _runs_diff(
    run_a: str = typer.Argument(..., metavar="RUN_A", show_default=False),
    run_b: str = typer.Argument(..., metavar="RUN_B", show_default=False),
    debug: bool = _DEBUG,
) -> None:
    def action() -> None:
        from lighter.inspect.diff import diff_runs

        typer.echo(diff_runs(run_a, run_b), nl=False)

    _guarded(action, debug)


@runs_app.command(
    name="plot",
    cls=_RunsCommand,
    help="One PNG of logged metrics over epochs (for */epoch names) or steps, a curve per run labelled "
    "with its differing config values. Reads each run's metrics.csv (CSVLogger). Needs matplotlib.",
)
def _runs_plot(
    runs: list[str] = typer.Argument(  # noqa: B008 - typer reads its arguments from defaults
        ..., metavar="RUN", help="Run folders, or folders of runs.", show_default=False
    ),
    metric: list[str] | None = typer.Option(  # noqa: B008 - typer reads its options from defaults
        None,
        "--metric",
        metavar="NAME",
        help="A logged metric to draw; repeatable (default: the monitored value and train/loss/epoch).",
        show_default=False,
    ),
    out: str = typer.Option("runs.png", "--out", metavar="FILE.png", help="The picture to write."),
    debug: bool = _DEBUG,
) -> None:
    def action() -> None:
        from lighter.inspect.plot import plot_runs

        typer.echo(f"Plot: {plot_runs(runs, metric or (), out, say=_say_err)}")

    _guarded(action, debug)


def main() -> None:
    """Entry point of the ``lighter`` console script."""
    app(prog_name="lighter")


if __name__ == "__main__":
    main()
