"""The ``zhurong-tk`` command group: global options, logging, and error mapping.

Exit codes (see :mod:`zhurong_tk.errors`): 0 ok, 1 some input failed,
2 usage, 3 internal error, 130 interrupted, 141 stdout closed by its reader.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import sys

import click

from zhurong_tk import __version__
from zhurong_tk._memory import keep_freed_memory, skip_exit_collections
from zhurong_tk.errors import EXIT_BROKEN_PIPE, EXIT_INTERNAL, EXIT_INTERRUPTED, ZhurongError

# numba reads its threading layer when first imported. workqueue, because cv2's
# OpenMP/pthreads pool and numba's OpenMP layer otherwise oversubscribe the
# cores and starve each other. Users may still override it in the environment.
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
# the process is ours: freed blocks are kept for reuse (see zhurong_tk._memory)
keep_freed_memory()

log = logging.getLogger("zhurong_tk")

EPILOG = """\b
Exit status: 0 ok; 1 some input could not be processed; 2 usage error;
3 internal error (re-run with --debug and report it); 130 interrupted.
Public samples are looked up in $ZHURONG_TK_SAMPLES or ../shared/fixtures."""


#: Subcommands, imported only when run (or listed): ``tracks detect`` need not load
#: scipy and PyAV for ``info`` and ``audio``. The pattern of click's "lazily loading
#: subcommands" documentation.
LAZY_COMMANDS = {
    "info": "zhurong_tk.cli.info:info",
    "audio": "zhurong_tk.cli.audio:audio",
    "video": "zhurong_tk.cli.video:video",
    "tracks": "zhurong_tk.cli.tracks:tracks",
    "demo": "zhurong_tk.cli.demo:demo",
    "warmup": "zhurong_tk.cli.warmup:warmup",
    "batch": "zhurong_tk.cli.batch:batch",
    "telemetry": "zhurong_tk.cli.telemetry:telemetry",
    "radar": "zhurong_tk.cli.radar:radar",
}


class ZhurongGroup(click.Group):
    """A click group that turns our exceptions into one-line messages and exit codes,
    and imports its subcommands when they are used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            module, attr = LAZY_COMMANDS[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except ZhurongError as exc:
            if ctx.meta.get("zhurong_tk.debug"):
                raise
            click.echo(f"zhurong-tk: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("zhurong-tk: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            # the reader of stdout is gone (`| head`): stop quietly; stdout goes to
            # devnull so that Python's own flush at exit does not complain again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(EXIT_BROKEN_PIPE)
        except Exception as exc:
            if ctx.meta.get("zhurong_tk.debug"):
                raise
            click.echo(
                f"zhurong-tk: internal error: {type(exc).__name__}: {exc} "
                "(a bug; re-run with --debug for the traceback and report it)",
                err=True,
            )
            ctx.exit(EXIT_INTERNAL)


def _configure_logging(verbose: int, quiet: int) -> None:
    level = logging.WARNING - 10 * verbose + 10 * quiet
    level = min(max(level, logging.DEBUG), logging.CRITICAL)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("zhurong-tk: %(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


@click.group(
    cls=ZhurongGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="zhurong-tk")
@click.option("-v", "--verbose", count=True, help="More messages on stderr (-vv for debug).")
@click.option("-q", "--quiet", count=True, help="Fewer messages on stderr.")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int, debug: bool) -> None:
    """Turn the raw media a Mars rover sends home into measurements."""
    ctx.meta["zhurong_tk.debug"] = debug
    ctx.meta["zhurong_tk.quiet"] = quiet > 0
    _configure_logging(verbose + (2 if debug else 0), quiet)


def main() -> None:
    """Console-script entry point."""
    # Python's cycle collector walks every object numba and LLVM make as they load: ~270
    # collections, 0.1 s of a short command at the default gen-0 threshold of 700 new
    # objects. A command's own objects rarely form cycles: collect less often, and not
    # at exit
    gc.set_threshold(100_000, 10, 10)
    skip_exit_collections()
    cli(prog_name="zhurong-tk")
