"""``zhurong-tk video``: frames and events from EDL and drop-camera video."""

from __future__ import annotations

import json
import logging
import time

import click

from zhurong_tk.cli.options import out_option, overwrite_option

log = logging.getLogger("zhurong_tk.cli")


def _parse_duration(_ctx, _param, value: str | None) -> float | None:
    if value is None:
        return None
    text = value.strip().lower().removesuffix("s")
    try:
        seconds = float(text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a duration in seconds (e.g. 1s, 0.5)") from None
    if not seconds > 0:
        raise click.BadParameter(f"{value!r} must be positive")
    return seconds


def _parse_times(_ctx, _param, value: str | None) -> tuple[float, ...]:
    if not value:
        return ()
    try:
        return tuple(float(v.strip().lower().removesuffix("s")) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of seconds") from None


@click.group()
def video() -> None:
    """Extract frames and find events in descent and drop-camera videos."""


@video.command("frames")
@click.argument("video_path", metavar="VIDEO|FOLDER", type=click.Path())
@out_option
@overwrite_option
@click.option("--every", callback=_parse_duration, help="One frame per interval, e.g. 1s.")
@click.option("--fps", type=float, default=None, help="One frame per 1/N seconds.")
@click.option("--count", type=click.IntRange(min=1), default=None, help="N frames spread evenly.")
@click.option(
    "--at",
    "at_s",
    callback=_parse_times,
    help="Frames nearest these times (s, the stream's own, as index.json gives them): 3.0,17.5",
)
@click.option(
    "--start", "start_s", type=float, default=None, help="Ignore frames before (s, stream time)."
)
@click.option("--end", "end_s", type=float, default=None, help="Ignore frames from (s).")
@click.option("--scenes", is_flag=True, help="One frame per scene (cuts, abrupt changes).")
@click.option(
    "--events",
    type=click.Choice(["edl"]),
    default=None,
    help="Find descent phases (abrupt changes, flashes, hover, dust, recovery); keep a frame each.",
)
@click.option(
    "--motion", is_flag=True, help="Fixed camera: keep frames while something moves, with its box."
)
@click.option("--keyframes", is_flag=True, help="Decode and keep keyframes only (fast overview).")
@click.option(
    "--input-fps",
    type=float,
    default=None,
    help="Frame rate of an image folder whose names carry no times.",
)
@click.option(
    "--max-frames",
    type=click.IntRange(min=1),
    default=None,
    help="Keep at most N interval/scene/keyframe picks (--at, event and motion frames are "
    "always kept).",
)
@click.option(
    "--dedup-bits",
    type=click.IntRange(min=-1, max=64),
    default=4,
    show_default=True,
    help="Drop frames this close (dHash bits) to the last kept one; -1 keeps all.",
)
@click.option(
    "--format",
    "image_format",
    type=click.Choice(["jpg", "png"]),
    default="jpg",
    show_default=True,
    help="Format of the frame files.",
)
@click.option("--json", "as_json", is_flag=True, help="Print index.json on stdout.")
def frames_command(
    video_path,
    out_dir,
    overwrite,
    every,
    fps,
    count,
    at_s,
    start_s,
    end_s,
    scenes,
    events,
    motion,
    keyframes,
    input_fps,
    max_frames,
    dedup_bits,
    image_format,
    as_json,
) -> None:
    """Keep the frames of VIDEO (or a FOLDER of images) that matter.

    Writes the frames, index.json, metrics.csv, contact_sheet.jpg and
    signals.png into --out. Selectors combine; within each interval or scene
    the sharpest frame is kept and near-duplicates are dropped. Without a
    selector: --scenes --every 1s.
    """
    from zhurong_tk.io.outputs import OutputDir
    from zhurong_tk.video.extract import FrameSelection, extract_frames

    if not (every or fps or count or at_s or scenes or events or motion or keyframes):
        scenes, every = True, 1.0
    selection = FrameSelection(
        events=events,
        motion=motion,
        keyframes=keyframes,
        input_fps=input_fps,
        every_s=every,
        fps=fps,
        count=count,
        at_s=at_s,
        start_s=start_s,
        end_s=end_s,
        scenes=scenes,
        max_frames=max_frames,
        dedup_bits=dedup_bits,
        image_format=image_format,
    )
    out = OutputDir(out_dir, overwrite=overwrite)
    out.check_free("index.json", "metrics.csv", "contact_sheet.jpg", "signals.png")
    started = time.perf_counter()
    log.info("%s: started → %s", video_path, out_dir)
    index = extract_frames(video_path, out, selection)
    log.info("%s: done in %.2f s", video_path, time.perf_counter() - started)
    if as_json:
        click.echo(json.dumps(index))
        return
    facts = index["video"]
    if facts["fps_measured"]:
        rate = f"{facts['fps_measured']:.3f} fps measured"
    else:
        rate = "keyframes" if facts["keyframes_only"] else "rate not measured"
    click.echo(
        f"{video_path}: {facts['frames_analysed']} frames, {facts['width']}×{facts['height']}, "
        f"{rate} → {out_dir}"
    )
    click.echo(
        f"  {len(index['cuts'])} cuts, {len(index['flashes'])} flashes ignored, "
        f"{len(index['scenes'])} scenes; {len(index['frames'])} frames kept"
    )
    for event in index["events"]:
        span = (
            f"{event['start_s']:.2f}–{event['end_s']:.2f} s"
            if event["kind"] in ("hover", "dust", "motion")
            else f"{event['time_s']:.2f} s"
        )
        click.echo(f"  {event['kind']:<14} {span:<18} confidence {event['confidence']:.2f}")
    for warning in index["warnings"]:
        click.echo(f"  warning: {warning}", err=True)
