"""Options shared by several commands, defined once."""

from __future__ import annotations

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
