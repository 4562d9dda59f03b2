"""Options shared by several commands, defined once."""

from __future__ import annotations

import re
from pathlib import Path

import click

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
