"""The `judge` command line: the Typer root that registers the commands of `judge.commands`.

Exit codes: 0 success; 1 judged, but at least one row or judgment failed; 2 bad input or
options (unknown rubric, bad file, bad flag, an output another job writes); 3 the backend is
unavailable or failed; 4 a gate failed (`eval --baseline`, `probe --fail-above`); 5 an output
could not be written (full disk, dead file system), keeping what was written before (rerun to
resume); 130 interrupted (Ctrl-C), keeping what was written. docs/failures.md lists them all.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from judge.commands import calibrate, compare, doctor, jobs, probe, rubric, score, tune, view
from judge.commands.config import CliConfig, defaults_for, load_cli_config, parse_backend_options
from judge.commands.options import CliState, cli_state
from judge.commands.render import err_console, print_error
from judge.errors import STORAGE_ERRNOS, BackendError, JudgeError, StorageError

app = typer.Typer(
    name="judge",
    help="A generative LLM judge with rubrics. Example: judge score --rubric helpfulness "
    '--prompt "What is 2+2?" --response "4"\n\n'
    "Exit codes: 0 ok; 1 some rows failed; 2 bad input or options; 3 backend failed; "
    "4 a gate failed; 5 an output could not be written (full disk): rerun to resume; "
    "130 interrupted.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def _main_options(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress (batch counts).")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="YAML file: `settings` (JudgeSettings fields for every judging command), "
            "`defaults` (defaults of the other options, e.g. backend, model, base_url) and "
            "`backend_options` (keyword options of the backend). Flags given on the command "
            "line win over it.",
        ),
    ] = None,
    backend_option: Annotated[
        list[str] | None,
        typer.Option(
            "--backend-option",
            "-B",
            help="KEY=VALUE option of the backend (repeatable), e.g. -B max_concurrency=16.",
        ),
    ] = None,
) -> None:
    state = cli_state(ctx)
    state.debug = debug
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    loaded = load_cli_config(config) if config is not None else CliConfig()
    warning = None if loaded.tuned is None else loaded.tuned.warning()
    if warning is not None:
        err_console.print(
            f"[yellow]note[/yellow]: {escape(warning)}", highlight=False, soft_wrap=True
        )
    extra = dict(loaded.backend_options)
    extra.update(parse_backend_options(backend_option or []))
    state.backend_options = extra
    state.settings = loaded.settings
    if loaded.defaults:
        ctx.default_map = defaults_for(ctx.command, loaded.defaults)


app.add_typer(rubric.rubric_app, name="rubric")
app.command(short_help=score.SCORE_HELP)(score.score)
app.command(short_help=doctor.DOCTOR_HELP)(doctor.doctor)
app.add_typer(calibrate.calibrate_app, name="calibrate")
app.add_typer(calibrate.bias_app, name="bias")
app.command("eval", short_help=calibrate.EVAL_HELP)(calibrate.eval_command)
app.command(short_help=jobs.BATCH_HELP)(jobs.batch)
app.command(short_help=jobs.SERVE_HELP)(jobs.serve)
app.command(short_help=compare.COMPARE_HELP)(compare.compare)
app.command(short_help=probe.PROBE_HELP)(probe.probe)
app.command(short_help=tune.TUNE_HELP)(tune.tune)
app.command(short_help=view.VIEW_HELP)(view.view)


def main() -> None:
    """Run the app; user errors print one line (tracebacks only with --debug)."""
    state = CliState()
    try:
        app(standalone_mode=True, obj=state)
    except JudgeError as exc:
        if state.debug:
            raise
        print_error(str(exc))
        sys.exit(exit_code(exc))
    except OSError as exc:  # a full or failing disk under a file no writer translated
        if state.debug or exc.errno not in STORAGE_ERRNOS:
            raise
        print_error(str(StorageError.from_os_error(exc)))
        sys.exit(5)


def exit_code(exc: JudgeError) -> int:
    """The exit code of an error: 3 backend, 5 storage, 2 any other mistake."""
    if isinstance(exc, BackendError):
        return 3
    if isinstance(exc, StorageError):
        return 5
    return 2


if __name__ == "__main__":
    main()
