"""``zhurong-tk demo``: the main job on generated media with known truth."""

from __future__ import annotations

import json
import sys

import click

from zhurong_tk.cli.options import format_option, out_option, overwrite_option
from zhurong_tk.errors import EXIT_INPUT_FAILED
from zhurong_tk.io.outputs import to_jsonable


@click.command()
@out_option
@overwrite_option
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generated media.")
@click.option("--no-samples", is_flag=True, help="Skip the public samples even when present.")
@format_option("table", "json")
@click.pass_context
def demo(
    ctx: click.Context,
    out_dir: str,
    overwrite: bool,
    seed: int,
    no_samples: bool,
    output_format: str,
) -> None:
    """Generate rover media with known truth, analyse it, and compare with the truth.

    Also runs on the public samples (../shared/fixtures or $ZHURONG_TK_SAMPLES)
    when they are present. Writes OUT/report.json and the media in OUT/media.
    """
    from zhurong_tk.demo import run_demo

    quiet = ctx.meta.get("zhurong_tk.quiet") or output_format == "json"
    progress = None if quiet else (lambda msg: click.echo(f"· {msg}", err=True))
    result = run_demo(
        out_dir, seed=seed, use_samples=not no_samples, overwrite=overwrite, progress=progress
    )
    if output_format == "json":
        click.echo(json.dumps(to_jsonable(result), indent=2, ensure_ascii=False))
    else:
        _print_summary(result, out_dir, samples_wanted=not no_samples)
    if not result["ok"]:
        sys.exit(EXIT_INPUT_FAILED)


def _print_summary(result: dict, out_dir: str, *, samples_wanted: bool) -> None:
    checks = result["checks"]
    passed = sum(c.ok for c in checks)
    click.echo(f"Synthetic media: {passed} of {len(checks)} checks against the truth passed")
    width = max(len(f"{c.subject} {c.quantity}") for c in checks)
    for c in checks:
        mark = "ok  " if c.ok else "FAIL"
        label = f"{c.subject} {c.quantity}".ljust(width)
        click.echo(f"  {mark} {label}  expected {_short(c.expected)}, found {_short(c.found)}")
    samples = result["samples"]
    if samples is None and samples_wanted:
        click.echo(
            "Public samples: not present (set ZHURONG_TK_SAMPLES or place ../shared/fixtures)"
        )
    elif samples is not None:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(samples["by_kind"].items()))
        click.echo(
            f"Public samples in {samples['root']}: {samples['files']} files ({kinds}), "
            f"{len(samples['failures'])} unreadable"
        )
        for failure in samples["failures"]:
            click.echo(f"  FAIL {failure['path']}: {failure['error']}")
        describe = {"audio": _audio_line, "video": _video_line, "tracks": _tracks_line}
        for kind, line in describe.items():
            for rec in samples.get(kind, []):
                name = rec["path"].rsplit("/", 1)[-1]
                if "error" in rec:
                    click.echo(f"  {kind} FAIL {name}: {rec['error']}")
                else:
                    click.echo(f"  {kind} {name}: {line(rec)}")
        pds4 = samples.get("pds4")
        if pds4 and "error" in pds4:
            click.echo(f"  pds4 FAIL {pds4['path']}: {pds4['error']}")
        elif pds4:
            click.echo(
                f"  pds4 telemetry: {pds4['records']} records from {pds4['products']} products, "
                f"{pds4['start']} – {pds4['stop']}, drove {pds4['distance_m']:.2f} m"
            )
            for r in pds4["radargrams"]:
                name = r["path"].rsplit("/", 1)[-1]
                if "error" in r:
                    click.echo(f"  radar FAIL {name}: {r['error']}")
                else:
                    click.echo(
                        f"  radar {name}: {r['channel']}, {r['traces']} traces, echoes to sample "
                        f"{r['signal_extent_samples']}"
                    )
    click.echo(f"Report: {out_dir}/report.json ({result['elapsed_s']:.1f} s)")


def _audio_line(rec: dict) -> str:
    lines = ", ".join(f"{f:g} Hz" for f in rec["tonal_lines_hz"]) or "no tonal lines"
    segs = ", ".join(f"{n} {k}" for k, n in sorted(rec["segments"].items())) or "no segments"
    low = (
        ""
        if rec["power_below_300hz"] is None
        else f", {100 * rec['power_below_300hz']:.0f} % of power < 300 Hz"
    )
    return f"{rec['duration_s']:.1f} s, RMS {rec['rms_dbfs']:.1f} dBFS{low}; {segs}; {lines}"


def _video_line(rec: dict) -> str:
    events = ", ".join(
        f"{e['kind']} {e['start_s']:.1f} s"
        if e["kind"] not in ("hover", "dust", "motion")
        else f"{e['kind']} {e['start_s']:.1f}–{e['end_s']:.1f} s"
        for e in rec["events"]
    )
    return f"{rec['frames_analysed']} frames, {rec['frames_kept']} kept; {events or 'no events'}"


def _tracks_line(rec: dict) -> str:
    return f"{rec['tracks']} ruts, {rec['pairs']} pairs"


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
