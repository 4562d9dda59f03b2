"""``zhurong-tk audio``: spectral analysis of rover audio."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import click

from zhurong_tk.cli.options import format_option, out_option, overwrite_option, process_each
from zhurong_tk.errors import ParameterError

log = logging.getLogger("zhurong_tk.cli")


@click.group()
def audio() -> None:
    """Analyse climate-station and rover microphone audio."""


_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"


def _parse_band(_ctx, _param, values: tuple[str, ...]) -> tuple[tuple[float, float], ...] | None:
    bands = []
    for value in values:
        match = re.fullmatch(rf"\s*({_NUMBER})\s*[-:]\s*({_NUMBER})\s*", value)
        if not match:
            raise click.BadParameter(f"{value!r} is not LO-HI in Hz (e.g. 20-100)")
        lo, hi = float(match[1]), float(match[2])
        if not lo < hi:
            raise click.BadParameter(f"{value!r}: LO must be below HI")
        bands.append((lo, hi))
    return tuple(bands) or None


@audio.command("analyze")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@out_option
@overwrite_option
@click.option(
    "--n-fft",
    type=click.IntRange(min=16),
    default=None,
    help="STFT frame length (power of two) [default: ~85 ms at the file's rate].",
)
@click.option(
    "--hop", type=click.IntRange(min=1), default=None, help="STFT hop [default: n-fft/4]."
)
@click.option("--mix", is_flag=True, help="Average the channels instead of analysing each one.")
@click.option(
    "--sensitivity",
    type=float,
    default=None,
    metavar="PA",
    help="Pascal per digital full scale: levels also in Pa and dB SPL (re 20 µPa).",
)
@click.option(
    "--band",
    "bands",
    multiple=True,
    callback=_parse_band,
    metavar="LO-HI",
    help="User band in Hz (repeatable) [default: 20-100 100-500 500-2000 2000-10000].",
)
@click.option(
    "--linear-freq", is_flag=True, help="Linear frequency axis in spectrogram.png (default log)."
)
@click.option(
    "--stream",
    "stream_index",
    type=click.IntRange(min=0),
    default=0,
    help="Audio stream of a container (0 = first).",
)
@click.option(
    "--field",
    default=None,
    metavar="NAME",
    help="PDS4 products: the table field holding the samples (a repeated field is read"
    " record after record).",
)
@click.option(
    "--rate",
    "rate_hz",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="HZ",
    help="PDS4 products: the sample rate, where the label declares none.",
)
@click.option(
    "--export-denoised",
    metavar="NAME.wav",
    default=None,
    help="Also write a spectrally gated copy (against the noise floor) into the result folder.",
)
@click.option(
    "--bandpass",
    nargs=2,
    type=float,
    default=None,
    metavar="LO HI",
    help="Also write a copy keeping only LO..HI Hz.",
)
@click.option(
    "--background",
    "background_s",
    nargs=2,
    type=float,
    default=None,
    metavar="START END",
    help="A stretch known to hold no event, in seconds: segments and their SNR are measured"
    " against its level (for a recording an event fills almost entirely).",
)
@format_option("table", "json")
@click.pass_context
def analyze_command(
    ctx,
    files,
    out_dir,
    overwrite,
    n_fft,
    hop,
    mix,
    sensitivity,
    bands,
    linear_freq,
    stream_index,
    field,
    rate_hz,
    export_denoised,
    bandpass,
    background_s,
    output_format,
) -> None:
    """Spectrum, levels, bands, tonal lines, impulses and activity segments of FILES.

    FILES are audio files, videos with an audio track, or PDS4 products (label
    or data file) naming an audio file or holding samples in an array or a
    table field (--field, --rate where the label does not say).

    Writes, per file, report.json, frames.csv, spectrogram.png and psd.png into
    --out (into --out/<name>/ when several files are given). A file that fails
    is reported on stderr; the others are still analysed (exit status 1).
    """
    from zhurong_tk.audio.analyze import AnalysisParams, analyze_to_folder
    from zhurong_tk.audio.bands import DEFAULT_USER_BANDS
    from zhurong_tk.audio.segments import SegmentConfig
    from zhurong_tk.io.pds4 import SignalRequest

    try:
        params = AnalysisParams(
            n_fft=n_fft,
            hop=hop,
            mix=mix,
            sensitivity_pa=sensitivity,
            user_bands=bands or DEFAULT_USER_BANDS,
            segments=SegmentConfig(background_s=tuple(background_s) if background_s else None),
        )
    except ParameterError as exc:
        raise click.UsageError(str(exc)) from None
    if export_denoised and Path(export_denoised).name != export_denoised:
        raise click.UsageError(
            "--export-denoised takes a file name, written inside the result folder"
        )
    if export_denoised:
        from zhurong_tk.audio.export import EXPORT_SUFFIXES

        if Path(export_denoised).suffix.lower() not in EXPORT_SUFFIXES:
            raise click.UsageError("--export-denoised takes a .wav or .flac file name")
    if bandpass and not 0 <= bandpass[0] < bandpass[1]:
        raise click.UsageError(
            f"--bandpass needs 0 <= LO < HI, got {bandpass[0]:g} {bandpass[1]:g}"
        )

    def work(path: str, folder: Path) -> dict:
        result, names = analyze_to_folder(
            path,
            folder,
            params,
            overwrite=overwrite,
            stream=stream_index,
            signal=SignalRequest(field=field, rate_hz=rate_hz) if field or rate_hz else None,
            log_freq=not linear_freq,
            export_denoised=export_denoised,
            bandpass=tuple(bandpass) if bandpass else None,
        )
        return _summary(path, folder, result, names)

    process_each(ctx, files, out_dir, work, output_format=output_format, show=_print_summary)


def _summary(path, folder, result, names) -> dict:
    channels = []
    for ch in result.channels:
        kinds: dict[str, int] = {}
        for s in ch.segments:
            kinds[s.kind] = kinds.get(s.kind, 0) + 1
        channels.append(
            {
                "channel": ch.channel,
                "rms_dbfs": ch.levels["rms"]["dbfs"],
                "peak_dbfs": ch.levels["peak"]["dbfs"],
                "segments": kinds,
                "tonal_lines_hz": [round(line.freq_hz, 2) for line in ch.tonal_lines],
                "impulses": len(ch.impulses),
                "slope_db_per_octave": ch.spectral_slope["db_per_octave"]
                if ch.spectral_slope
                else None,
            }
        )
    info = result.info
    return {
        "path": path,
        "out": str(folder),
        "files": names,
        "samplerate": info.samplerate,
        "duration_s": ch.samples / info.samplerate if info else None,
        "channels": channels,
        "warnings": result.warnings,
    }


def _db(value) -> str:
    return "-inf" if value is None or value == float("-inf") else f"{value:.1f}"


def _print_summary(s: dict) -> None:
    if "error" in s:
        click.echo(f"{s['path']}: FAILED")
        return
    click.echo(f"{s['path']}: {s['duration_s']:.2f} s at {s['samplerate']} Hz → {s['out']}")
    for ch in s["channels"]:
        segs = ", ".join(f"{n} {k}" for k, n in sorted(ch["segments"].items())) or "none"
        lines = ", ".join(f"{f:g} Hz" for f in ch["tonal_lines_hz"]) or "none"
        slope = (
            ""
            if ch["slope_db_per_octave"] is None
            else f", slope {ch['slope_db_per_octave']:.1f} dB/oct"
        )
        prefix = f"  [{ch['channel']}] " if len(s["channels"]) > 1 else "  "
        click.echo(
            f"{prefix}RMS {_db(ch['rms_dbfs'])} dBFS, peak {_db(ch['peak_dbfs'])} dBFS{slope}"
        )
        click.echo(f"{prefix}segments: {segs}; tonal lines: {lines}; impulses: {ch['impulses']}")
    for w in s["warnings"]:
        click.echo(f"  warning: {w}")
