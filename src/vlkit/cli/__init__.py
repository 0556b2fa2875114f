"""`vlkit <group> <verb>`: the command-line interface, one module per command group.

User errors (bad config, missing file, malformed data) print one clear line and exit with status 2.
`--json` prints exactly one JSON object on stdout; progress and logs go to stderr. Each group module
imports its task package only inside its commands, so `vlkit --help` starts fast.
"""

from __future__ import annotations

import logging
import signal
import sys

import typer

from vlkit.cli import caption, demo, features, report, runs, videoqa, vqa
from vlkit.core.errors import Interrupted, VlkitError

app = typer.Typer(help="vlkit: vision-language research toolkit (VQA, captioning, video QA).",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.add_typer(vqa.app, name="vqa")
app.add_typer(caption.app, name="caption")
app.add_typer(videoqa.app, name="videoqa")
app.add_typer(features.app, name="features")
app.add_typer(runs.app, name="runs")
app.command("report")(report.report_command)
app.command("demo")(demo.demo_command)


def main() -> None:
    """Console-script entry point: run the app; a VlkitError is one `error:` line and exit status 2, SIGTERM and
    Ctrl-C one `interrupted:` line and status 143 / 130 (work already finished is kept)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("vlkit")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        app()
    except VlkitError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)
    except Interrupted as error:
        typer.echo(f"interrupted: {error}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted: Ctrl-C", err=True)
        sys.exit(128 + signal.SIGINT)


def _raise_interrupted(signum: int, frame: object) -> None:
    """SIGTERM (a cluster stopping the job, `kill`) ends the command the way Ctrl-C does."""
    raise Interrupted("SIGTERM", 128 + signum)
