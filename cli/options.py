"""Options shared by several commands, defined once."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from zhurong_tk.errors import (
    EXIT_INPUT_FAILED,
    EXIT_INTERNAL,
    EXIT_USAGE,
    ParameterError,
    ZhurongError,
)
from zhurong_tk.io.outputs import check_folder_writable, to_jsonable

log = logging.getLogger("zhurong_tk.cli")

out_option = click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, writable=True),
    help="Folder for the results (created if missing).",
)
overwrite_option = click.option(
    "--overwrite",
    is_flag=True,
    help="Replace results already in --out (never done otherwise).",
)


def format_option(*choices: str, default: str = "table"):
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help="How to print results on stdout.",
    )


def result_folders(files: tuple[str, ...] | list[str], out: Path) -> list[Path]:
    """One folder per input: --out itself for one file, else --out/<name> (made unique)."""
    if len(files) == 1:
        return [out]
    used: dict[str, int] = {}
    folders = []
    for f in files:
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(f).name) or "input"
        count = used.get(name, 0)
        used[name] = count + 1
        folders.append(out / (name if count == 0 else f"{name}-{count + 1}"))
    return folders


def process_each(
    ctx: click.Context,
    inputs: tuple[str, ...],
    out_dir: str,
    work: Callable[[str, Path], dict[str, Any]],
    *,
    output_format: str,
    show: Callable[[dict[str, Any]], None],
    noun: str = "files",
) -> None:
    """Run ``work(path, folder)`` on each input into its own result folder, then report.

    A :class:`ZhurongError` on one input is a one-line message on stderr and the
    others go on; so is a bug met on one input (an internal error, exit status 3
    at the end). The summaries (failed ones with an ``"error"``) print as JSON or
    through ``show``; any failure ends with exit status 1 (the others' results are kept),
    or 2 when every failure was a parameter that did not fit its input.
    """
    check_folder_writable(out_dir)  # once, before any work
    summaries, failed, internal, parameters = [], 0, 0, 0
    for number, (path, folder) in enumerate(
        zip(inputs, result_folders(inputs, Path(out_dir)), strict=True), start=1
    ):
        started = time.perf_counter()
        log.info("%s (%d of %d): started → %s", path, number, len(inputs), folder)
        try:
            summaries.append(work(path, folder))
            log.info("%s: done in %.2f s", path, time.perf_counter() - started)
        except Exception as exc:
            if ctx.meta.get("zhurong_tk.debug"):
                raise
            failed += 1
            if isinstance(exc, ZhurongError):
                message = str(exc)
                if path not in message:  # a parameter that does not fit this input
                    message = f"{path}: {message}"
                parameters += isinstance(exc, ParameterError)
            else:
                internal += 1
                message = f"{path}: internal error: {type(exc).__name__}: {exc}"
                message += " (a bug; re-run with --debug for the traceback and report it)"
            click.echo(f"zhurong-tk: error: {message}", err=True)
            summaries.append({"path": path, "error": message})
    if output_format == "json":
        click.echo(json.dumps(to_jsonable(summaries), indent=2, ensure_ascii=False, default=str))
    else:
        for summary in summaries:
            show(summary)
    if failed:
        click.echo(f"zhurong-tk: {failed} of {len(inputs)} {noun} failed", err=True)
        if internal:
            sys.exit(EXIT_INTERNAL)
        # every failure a parameter that fits no input (a hop past the window n_fft takes from
        # the file's rate): a usage error, as when click or the command catches it up front
        sys.exit(EXIT_USAGE if parameters == failed else EXIT_INPUT_FAILED)
