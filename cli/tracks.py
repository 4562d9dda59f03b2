"""``zhurong-tk tracks``: wheel ruts in rear-camera images."""

from __future__ import annotations

from pathlib import Path

import click

from zhurong_tk.cli.options import format_option, out_option, overwrite_option, process_each


@click.group()
def tracks() -> None:
    """Find the rover's wheel tracks in its rear-camera images."""


def _parse_camera(_ctx, _param, value: str | None):
    if value is None:
        return None
    from zhurong_tk.errors import ParameterError
    from zhurong_tk.tracks import CameraModel

    try:
        f_px, cx, cy, height_m, pitch_deg = (float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not F_PX,CX,CY,HEIGHT_M,PITCH_DEG (five numbers)"
        ) from None
    try:
        return CameraModel(f_px, cx, cy, height_m, pitch_deg)
    except ParameterError as exc:  # which of the five is out of range
        raise click.BadParameter(str(exc)) from None


@tracks.command("detect")
@click.argument("images", nargs=-1, required=True, type=click.Path())
@out_option
@overwrite_option
@click.option(
    "--camera",
    callback=_parse_camera,
    metavar="F_PX,CX,CY,HEIGHT_M,PITCH_DEG",
    help="Pinhole camera over flat ground: spacing in metres and headings.",
)
@click.option(
    "--track-width",
    "track_width_m",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="M",
    help="Rover track width in metres (Zhurong: 1.2): pair ruts at that spacing (with --camera).",
)
@click.option(
    "--bit-depth",
    type=click.IntRange(1, 16),
    default=None,
    metavar="BITS",
    help="The camera's bits per pixel: contrast as a fraction of its full scale"
    " [default: the smallest of 8/10/12/14/16 holding each image's largest value].",
)
@click.option("--debug-images", is_flag=True, help="Also write response.png and votes.png.")
@click.option(
    "--work-side",
    type=click.IntRange(64, 8192),
    default=448,
    show_default=True,
    metavar="PX",
    help="Longest side of the copy the detector works on (more: thinner far ruts, slower).",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=None,
    help="Refuse larger images [default: $ZHURONG_TK_MAX_PIXELS or 150 000 000].",
)
@click.option(
    "--threads", type=click.IntRange(min=1), default=None, help="Threads [default: cores]."
)
@format_option("table", "json")
@click.pass_context
def detect_command(
    ctx,
    images,
    out_dir,
    overwrite,
    camera,
    track_width_m,
    bit_depth,
    debug_images,
    work_side,
    max_pixels,
    threads,
    output_format,
) -> None:
    """Detect wheel ruts in IMAGES (PNG, JPEG, TIFF; 8/16-bit; grey or colour).

    Writes report.json and overlay.png per image into --out (into --out/<name>/
    when several images are given). An image that fails is reported on stderr;
    the others are still processed (exit status 1).
    """
    import os

    import numba

    from zhurong_tk._numba_setup import skip_blas_probe
    from zhurong_tk.tracks import TrackConfig
    from zhurong_tk.tracks.run import detect_to_folder

    if track_width_m is not None and camera is None:
        raise click.UsageError("--track-width needs --camera (spacing on the ground)")

    n_threads = threads or numba.config.NUMBA_NUM_THREADS or os.cpu_count() or 1
    numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    config = TrackConfig(work_side=work_side)
    skip_blas_probe()  # the kernels use no BLAS: numba need not import scipy.linalg

    def work(path: str, folder: Path) -> dict:
        _, doc = detect_to_folder(
            path,
            folder,
            camera=camera,
            config=config,
            overwrite=overwrite,
            debug_images=debug_images,
            max_pixels=max_pixels,
            n_threads=n_threads,
            track_width_m=track_width_m,
            bit_depth=bit_depth,
        )
        return {"path": path, "folder": str(folder), **doc}

    process_each(
        ctx, images, out_dir, work, output_format=output_format, show=_print, noun="images"
    )


def _print(s: dict) -> None:
    if "error" in s:
        click.echo(f"{s['path']}: FAILED")
        return
    size = f"{s['width']}×{s['height']}"
    click.echo(
        f"{s['path']}: {size}, {s['message']} ({s['detect_seconds'] * 1e3:.0f} ms) → {s['folder']}"
    )
    for i, t in enumerate(s["tracks"]):
        tread = f", tread {t['tread_period_px']:.1f} px" if t["tread_period_px"] else ""
        shape = "curved" if t["curved"] else "straight"
        click.echo(
            f"  rut {i}: ({t['x1']:.0f},{t['y1']:.0f})→({t['x2']:.0f},{t['y2']:.0f}) "
            f"{t['angle_deg']:.1f}°, {shape}, width {t['width_px']:.0f} px, "
            f"confidence {t['confidence']:.2f}{tread}"
        )
    for p in s["pairs"]:
        metres = f" = {p['spacing_m']:.2f} m" if p["spacing_m"] is not None else ""
        click.echo(f"  pair {p['tracks']}: spacing {p['spacing_px']:.0f} px{metres}")
    vp = s["vanishing_point"]
    if vp:
        click.echo(f"  vanishing point ({vp['x']:.0f}, {vp['y']:.0f})")
    for w in s["warnings"]:
        click.echo(f"  warning: {w}")
