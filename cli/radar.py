"""``zhurong-tk radar``: radargrams of Zhurong's RoPeR products."""

from __future__ import annotations

import os
from pathlib import Path

import click

from zhurong_tk.cli.options import format_option, out_option, overwrite_option, process_each
from zhurong_tk.errors import MediaReadError


@click.group()
def radar() -> None:
    """Ground-penetrating radar products (Zhurong RoPeR, PDS4)."""


@radar.command("radargram")
@click.argument("products", nargs=-1, required=True, type=click.Path())
@out_option
@overwrite_option
@click.option(
    "--dewow",
    "dewow_samples",
    type=click.IntRange(min=0),
    default=25,
    show_default=True,
    help="Running-mean window subtracted along each trace, samples (0: off).",
)
@click.option("--no-time-zero", is_flag=True, help="Keep the traces as recorded.")
@click.option(
    "--background",
    "background_traces",
    type=click.IntRange(min=-1),
    default=0,
    show_default=True,
    help="Subtract the mean trace: 0 over all traces, N over a running window, -1 off.",
)
@click.option(
    "--bandpass",
    "bandpass_mhz",
    type=(float, float),
    default=None,
    metavar="LOW HIGH",
    help="Zero-phase band-pass, MHz, below the channel's Nyquist (LF at 10 ns: 50 MHz).",
)
@click.option(
    "--gain",
    type=click.Choice(["agc", "exp", "none"]),
    default="agc",
    show_default=True,
    help="Automatic gain control, exp(a·t)·t^b, or none.",
)
@click.option("--agc-window", type=click.IntRange(min=2), default=50, show_default=True)
@click.option(
    "--exp-gain",
    "exp_a",
    type=float,
    default=0.002,
    show_default=True,
    help="a, 1/ns (1/sample on a channel without a sample interval: HF unless given).",
)
@click.option(
    "--permittivity",
    type=click.FloatRange(min=1.0),
    default=4.0,
    show_default=True,
    help="Relative permittivity for the depth axis.",
)
@click.option(
    "--hf-sample-interval",
    "hf_dt_ns",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="HF channel's sample interval, ns (the products do not give it).",
)
@click.option("--show-all", is_flag=True, help="Picture the whole window, not only the echoes.")
@click.option(
    "--along-traverse",
    is_flag=True,
    help="One radargram per channel over all PRODUCTS, in time order, into --out.",
)
@format_option("table", "json")
@click.pass_context
def radargram_command(
    ctx,
    products,
    out_dir,
    overwrite,
    dewow_samples,
    no_time_zero,
    background_traces,
    bandpass_mhz,
    gain,
    agc_window,
    exp_a,
    permittivity,
    hf_dt_ns,
    show_all,
    along_traverse,
    output_format,
) -> None:
    """A B-scan per product: radargram.png, traces.npz and report.json in --out.

    PRODUCTS are RoPeR labels or data files. The chain (each step recorded in the
    report): dewow, time zero at the direct wave, background (mean-trace) removal,
    optional band-pass, gain; trace positions from the product's telemetry give the
    distance axis, the permittivity the depth axis.
    """
    from zhurong_tk.radar.radargram import Processing, radargram_to_folder

    # windows of one cannot be what was meant: a usage error now, not a failure per product
    if dewow_samples == 1:
        raise click.BadParameter("0 (off) or a window of at least 2 samples", param_hint="--dewow")
    if background_traces == 1:
        raise click.BadParameter(
            "-1 (off), 0 (all traces) or a window of at least 2", param_hint="--background"
        )
    if bandpass_mhz is not None and not 0 <= bandpass_mhz[0] < bandpass_mhz[1]:
        raise click.BadParameter("needs 0 ≤ LOW < HIGH", param_hint="--bandpass")
    steps = Processing(
        dewow_samples=dewow_samples or None,
        time_zero=not no_time_zero,
        background_traces=None if background_traces < 0 else background_traces,
        bandpass_mhz=bandpass_mhz,
        gain=gain,
        agc_samples=agc_window,
        exp_a_per_ns=exp_a,
        permittivity=permittivity,
    )

    if along_traverse:
        _along_traverse(products, out_dir, steps, hf_dt_ns, show_all, overwrite, output_format)
        return

    def work(path: str, folder: Path) -> dict:
        if os.path.isdir(path):  # left in the list only when it holds no label
            raise MediaReadError(path, "no PDS4 product label in this folder")
        doc = radargram_to_folder(
            path,
            folder,
            steps=steps,
            hf_sample_interval_ns=hf_dt_ns,
            show_all=show_all,
            overwrite=overwrite,
        )
        return {"path": path, "folder": str(folder), **doc}

    process_each(
        ctx,
        _folders_opened(products),
        out_dir,
        work,
        output_format=output_format,
        show=_print,
        noun="products",
    )


def _folders_opened(products: tuple[str, ...]) -> tuple[str, ...]:
    """Each folder stands for the product labels found in it (searched recursively)."""
    from zhurong_tk.io.pds4 import product_labels

    inputs: list[str] = []
    for path in products:
        found = [str(label) for label in product_labels([path])] if os.path.isdir(path) else []
        inputs += found or [path]
    return tuple(dict.fromkeys(inputs))


def _along_traverse(products, out_dir, steps, hf_dt_ns, show_all, overwrite, output_format):
    import json
    import sys

    from zhurong_tk.errors import EXIT_INPUT_FAILED
    from zhurong_tk.io.outputs import to_jsonable
    from zhurong_tk.radar.radargram import radargrams_along_traverse

    doc = radargrams_along_traverse(
        list(products),
        out_dir,
        steps=steps,
        hf_sample_interval_ns=hf_dt_ns,
        show_all=show_all,
        overwrite=overwrite,
    )
    for failure in doc["failed"]:
        click.echo(f"zhurong-tk: error: {failure['error']}", err=True)
    if output_format == "json":
        click.echo(json.dumps(to_jsonable(doc), indent=2, ensure_ascii=False))
    else:
        for channel in doc["channels"].values():
            _print({"path": f"{len(channel['products'])} products", "folder": out_dir, **channel})
    if doc["failed"]:
        sys.exit(EXIT_INPUT_FAILED)


def _print(s: dict) -> None:
    if "error" in s:
        click.echo(f"{s['path']}: FAILED")
        return
    axis = (
        f"{s['sample_interval_ns']:g} ns/sample, to {s['max_depth_m']:.0f} m at ε_r "
        f"{s['permittivity']:g}"
        if s["sample_interval_ns"]
        else "sample axis (interval unknown)"
    )
    click.echo(
        f"{s['path']}: {s['channel']}, {s['traces']} traces × {s['samples']} samples over "
        f"{s['distance_m']:.2f} m, {axis}; echoes to sample {s['signal_extent_samples']} "
        f"→ {s['folder']}"
    )
    for note in s["notes"]:
        click.echo(f"  note: {note}")
