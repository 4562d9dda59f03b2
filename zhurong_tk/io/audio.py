"""Read audio in blocks, whatever the container.

libsndfile (through soundfile) reads WAV, FLAC, OGG/Vorbis/Opus, MP3, AIFF and
more, with exact frame counts. What it cannot open — AAC in M4A, and the audio
track of MP4/MOV/WebM/MKV videos, which is how space agencies usually publish
rover sounds — is decoded with PyAV (FFmpeg). Both paths yield float32 blocks
of shape ``(frames, channels)`` so that analyses never care which was used,
and neither ever loads a long file whole.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from zhurong_tk.errors import MediaReadError, ParameterError, UnsupportedFormatError
from zhurong_tk.io import _ffmpeg, pds4
from zhurong_tk.io._ffmpeg import av_reason, open_container
from zhurong_tk.io.pds4 import SignalRequest, SignalSource
from zhurong_tk.io.sniff import Kind, describe, sniff

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    """What an audio file (or an audio stream inside a container) is.

    Attributes
    ----------
    path : str
        The file.
    format : str
        Container format (``"WAV"``, ``"FLAC"``, ``"mov,mp4,m4a,3gp,3g2,mj2"`` ...).
    codec : str
        Sample encoding: libsndfile subtype (``"PCM_16"``, ``"VORBIS"``) or FFmpeg codec name.
    samplerate : int
        Sample rate in Hz.
    channels : int
        Number of channels.
    frames : int
        Number of sample frames (per channel).
    duration_s : float
        ``frames / samplerate`` in seconds.
    frames_exact : bool
        False when ``frames`` is derived from the container's stated duration
        (compressed streams); :func:`count_frames` gives the decoded count.
    backend : str
        ``"soundfile"`` or ``"pyav"``.
    stream_index : int or None
        Index of the audio stream in its container (PyAV), else None.
    product : dict or None
        For a PDS4 product: its label's facts and what was read from it (the
        array or table field and where the sample rate came from, or the media
        file the label names), see :meth:`~zhurong_tk.io.pds4.SignalSource.facts`.
    """

    path: str
    format: str
    codec: str
    samplerate: int
    channels: int
    frames: int
    duration_s: float
    frames_exact: bool
    backend: str
    stream_index: int | None = None
    product: dict | None = None

    @property
    def integer_bits(self) -> int | None:
        """Bits per sample of an integer PCM encoding, else None; see :func:`integer_pcm_bits`."""
        return integer_pcm_bits(self.codec) if self.backend != "pds4" else None


def integer_pcm_bits(codec: str) -> int | None:
    """Bits per sample of an integer PCM encoding, None for anything else (float, compressed).

    Parameters
    ----------
    codec : str
        A libsndfile subtype (``"PCM_U8"``, ``"PCM_S8"``, ``"PCM_16"``, ``"PCM_24"``,
        ``"PCM_32"``) or an FFmpeg codec name (``"pcm_u8"``, ``"pcm_s16le"``, ``"pcm_s24be"``).

    Returns
    -------
    int or None
        Both readers scale a ``b``-bit integer sample by ``2^(b-1)``, so its full scale is
        ``-1`` to ``(2^(b-1) - 1) / 2^(b-1)`` (127/128 at 8 bits).
    """
    match = re.fullmatch(r"pcm_[su]?(\d+)(?:le|be)?(?:_planar)?", codec.lower())
    return int(match.group(1)) if match else None


def probe_audio(
    path: str | os.PathLike[str], *, stream: int = 0, signal: SignalRequest | None = None
) -> AudioInfo:
    """Describe an audio file, the ``stream``-th audio stream of a container, or the
    signal of a PDS4 product.

    Parameters
    ----------
    path : path-like
        Audio file (WAV, FLAC, OGG, MP3, ...), container with an audio track
        (M4A, MP4, MOV, WebM, MKV, AVI), or a PDS4 product (its label, or its
        data file with the label beside it) that names an audio file or holds
        samples in an array or a table field.
    stream : int
        Which audio stream of a container (0 = first); a plain audio file has only 0.
    signal : SignalRequest, optional
        For a PDS4 product: the table field and the sample rate, where the
        label does not settle them.

    Raises
    ------
    MediaReadError
        Missing, empty, truncated or corrupt file.
    UnsupportedFormatError
        Not audio, or a container without an audio track.
    ParameterError
        A PDS4 product without a declared sample rate and none given, or
        without the table field asked for.
    """
    return _probe(path, stream, signal)[0]


def _probe(
    path: str | os.PathLike[str], stream: int, signal: SignalRequest | None
) -> tuple[AudioInfo, SignalSource | None]:
    kind, fmt = sniff(path)
    if kind not in (Kind.AUDIO, Kind.CONTAINER):
        label = _pds4_label(path, kind)
        if label is not None:
            return _probe_pds4(label, stream, signal)
    if kind is Kind.AUDIO:
        try:
            info = _probe_soundfile(path)
            if stream != 0:  # a plain audio file is one stream: asking for another is a slip
                raise ParameterError(f"{path}: audio stream {stream} requested, file has 1")
            return info, None
        except MediaReadError:
            if fmt not in ("MP3", "OGG"):  # FFmpeg knows some MP3/Opus variants libsndfile refuses
                raise
    if kind in (Kind.AUDIO, Kind.CONTAINER):
        infos = probe_audio_streams(path)
        if not infos:
            raise UnsupportedFormatError(path, f"{fmt} file has no audio track")
        if not 0 <= stream < len(infos):
            raise ParameterError(f"{path}: audio stream {stream} requested, file has {len(infos)}")
        return infos[stream], None
    raise UnsupportedFormatError(path, f"not an audio file (content is {describe(kind, fmt)})")


def _pds4_label(path: str | os.PathLike[str], kind: Kind) -> Path | None:
    """The PDS4 label of ``path`` when it is a label or a data file with one beside it."""
    if pds4.looks_like_label(path):
        return Path(path)
    if kind is Kind.UNKNOWN:
        try:
            return pds4.find_label(path)
        except MediaReadError:
            return None
    return None


def _probe_pds4(
    label: Path, stream: int, signal: SignalRequest | None
) -> tuple[AudioInfo, SignalSource]:
    product = pds4.open_product(label)
    source = pds4.find_signal(product, signal, media=("audio", "container"))
    if source.media_file:  # the label wraps an audio file: read it as such a file
        info = probe_audio(source.media_file, stream=stream)
        return dataclasses.replace(info, product=source.facts()), source
    frames, channels = pds4.signal_channels(source)
    samplerate = round(source.rate_hz)
    if samplerate < 1 or abs(source.rate_hz - samplerate) > 1e-6 * source.rate_hz:
        raise ParameterError(
            f"{label}: sample rate {source.rate_hz:g} Hz ({source.rate_from}) is not a whole"
            " number of hertz"
        )
    data_type = (
        next(f.data_type for f in source.structure.fields if f.name == source.field)
        if source.field
        else source.structure.data_type
    )
    info = AudioInfo(
        path=str(label),
        format=f"PDS4 {source.structure.kind}",
        codec=data_type,
        samplerate=samplerate,
        channels=channels,
        frames=frames,
        duration_s=frames / samplerate,
        frames_exact=True,
        backend="pds4",
        product=source.facts(),
    )
    return info, source


def _probe_soundfile(path: str | os.PathLike[str]) -> AudioInfo:
    try:
        info = sf.info(os.fspath(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise MediaReadError(path, f"cannot read audio header ({_sf_reason(exc)})") from None
    if info.samplerate <= 0 or info.channels <= 0:
        raise MediaReadError(
            path, f"invalid header: {info.samplerate} Hz, {info.channels} channels"
        )
    if info.frames == 0:
        raise MediaReadError(path, "no audio samples (header only)")
    problem = _riff_truncation(Path(path)) if info.format == "WAV" else None
    problem = problem or _tail_problem(path, info.frames)
    if problem:
        raise MediaReadError(path, problem)
    return AudioInfo(
        path=os.fspath(path),
        format=info.format,
        codec=info.subtype,
        samplerate=int(info.samplerate),
        channels=int(info.channels),
        frames=int(info.frames),
        duration_s=float(info.frames) / info.samplerate,
        frames_exact=info.format not in ("MPEG",),
        backend="soundfile",
    )


def _riff_truncation(path: Path) -> str | None:
    """Compare a WAV's declared RIFF size with the file's size.

    libsndfile silently shortens the frame count of a cut-off WAV, so the
    header's own claim is the only witness of the truncation.
    """
    with open(path, "rb") as fh:
        head = fh.read(8)
    declared = int.from_bytes(head[4:8], "little") + 8
    actual = path.stat().st_size
    if head[:4] != b"RIFF" or declared in (8, 0xFFFFFFFF + 8):  # 0 / -1: written by a streamer
        return None
    if actual < declared:
        return f"truncated: header declares {declared:,} bytes, file has {actual:,}"
    return None


def _tail_problem(path: str | os.PathLike[str], frames: int) -> str | None:
    """Read the last samples: a cut-off FLAC/OGG fails here, cheaply, without decoding it all."""
    try:
        with sf.SoundFile(os.fspath(path)) as fh:
            if not fh.seekable():
                return None
            fh.seek(max(frames - 1024, 0))
            got = len(fh.read(1024, dtype="float32"))
    except (sf.LibsndfileError, RuntimeError) as exc:
        return f"truncated or corrupt: the last samples do not decode ({_sf_reason(exc)})"
    if got < min(frames, 1024):
        return f"truncated: header declares {frames:,} frames, data ends early"
    return None


def _sf_reason(exc: Exception) -> str:
    text = str(exc)
    # "Error opening 'x.wav': Format not recognised." -> "Format not recognised"
    if "': " in text:
        text = text.split("': ", 1)[1]
    return text.rstrip(".")


def probe_audio_streams(path: str | os.PathLike[str]) -> list[AudioInfo]:
    """Describe every audio stream of a container with PyAV (empty list if none).

    Raises
    ------
    MediaReadError
        FFmpeg cannot open the file.
    """
    with open_container(path) as container:
        infos = []
        for i, st in enumerate(container.streams.audio):
            ctx = st.codec_context
            rate = int(ctx.sample_rate or st.rate or 0)
            if rate <= 0:
                log.warning("%s: audio stream %d has no sample rate; skipped", path, i)
                continue
            duration = _stream_duration(container, st)
            infos.append(
                AudioInfo(
                    path=os.fspath(path),
                    format=container.format.name,
                    codec=ctx.name,
                    samplerate=rate,
                    channels=int(ctx.channels or len(ctx.layout.channels) or 1),
                    frames=round(duration * rate),
                    duration_s=duration,
                    frames_exact=False,
                    backend="pyav",
                    stream_index=i,
                )
            )
        return infos


def _stream_duration(container, st) -> float:
    if st.duration is not None and st.time_base is not None:
        return float(st.duration * st.time_base)
    if container.duration is not None:
        return container.duration / _ffmpeg.av.time_base
    return 0.0


class AudioReader:
    """Stream an audio file, or the audio track of a container, in float32 blocks.

    Parameters
    ----------
    path : path-like
        The file, or a PDS4 product (see :func:`probe_audio`).
    stream : int
        Audio stream of a container (0 = first).
    signal : SignalRequest, optional
        A PDS4 product's table field and sample rate, where its label does not settle them.

    Attributes
    ----------
    info : AudioInfo
        What the file says about itself.
    decode_errors : int
        Packets FFmpeg could not decode (PyAV backend); they are skipped.

    Examples
    --------
    >>> with AudioReader("egress.m4a") as reader:          # doctest: +SKIP
    ...     for block in reader.blocks(65536):
    ...         accumulate(block)                            # block.shape == (<=65536, channels)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        stream: int = 0,
        signal: SignalRequest | None = None,
    ) -> None:
        self.info, self._source = _probe(path, stream, signal)
        # a PDS4 label that names an audio file: that file is what is read
        self.path = Path(self.info.path)
        self.decode_errors = 0
        self.frames_read = 0

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(self, *exc_info) -> None:
        return None

    def blocks(self, block_frames: int, *, overlap: int = 0) -> Iterator[np.ndarray]:
        """Yield blocks of ``block_frames`` frames, consecutive blocks sharing ``overlap``.

        Parameters
        ----------
        block_frames : int
            Frames per block (the last block may be shorter).
        overlap : int
            Frames each block repeats from the end of the previous one.

        Yields
        ------
        numpy.ndarray
            float32, shape ``(n, channels)``, values nominally in [-1, 1].
        """
        if block_frames <= 0:
            raise ParameterError(f"block_frames must be positive, got {block_frames}")
        if not 0 <= overlap < block_frames:
            raise ParameterError(f"overlap must be in [0, block_frames), got {overlap}")
        self.frames_read = 0
        if self.info.backend == "soundfile":
            # read whole steps: each read is a block with nothing to join (65536-frame reads
            # joined per block, and soundfile's three seeks per read, doubled the read time)
            chunks = self._soundfile_chunks(block_frames - overlap)
        else:
            chunks = {"pyav": self._pyav_chunks, "pds4": self._pds4_chunks}[self.info.backend]()
        yield from _reblock(chunks, block_frames, overlap, self.info.channels)

    def _pds4_chunks(self) -> Iterator[np.ndarray]:
        for chunk in pds4.signal_chunks(self._source):
            self.frames_read += len(chunk)
            yield chunk

    def _soundfile_chunks(self, size: int = 65536) -> Iterator[np.ndarray]:
        try:
            with sf.SoundFile(os.fspath(self.path)) as fh:
                while True:
                    chunk = fh.read(size, dtype="float32", always_2d=True)
                    if not len(chunk):
                        break
                    self.frames_read += len(chunk)
                    yield chunk
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise MediaReadError(
                self.path, f"read failed after {self.frames_read} frames ({_sf_reason(exc)})"
            ) from None

    def _pyav_chunks(self) -> Iterator[np.ndarray]:
        channels = self.info.channels
        with open_container(self.path) as container:
            st = container.streams.audio[self.info.stream_index or 0]
            # Packed float32 in the stream's own layout and rate: no resampling.
            av = _ffmpeg.av  # imported on first use: WAV and FLAC never need it
            resampler = av.AudioResampler(
                format="flt", layout=st.codec_context.layout, rate=st.codec_context.sample_rate
            )

            def decoded() -> Iterator[np.ndarray]:
                for packet in container.demux(st):
                    try:
                        frames = packet.decode()
                    except av.error.InvalidDataError:
                        self.decode_errors += 1
                        continue
                    for frame in frames:
                        for out in resampler.resample(frame):
                            yield out.to_ndarray().reshape(-1, channels)
                for out in resampler.resample(None):
                    yield out.to_ndarray().reshape(-1, channels)

            try:
                for chunk in _without_end_padding(decoded(), _edit_list_frames(container, st)):
                    self.frames_read += len(chunk)
                    yield chunk
            except av.error.FFmpegError as exc:
                raise MediaReadError(
                    self.path, f"decode failed after {self.frames_read} frames ({av_reason(exc)})"
                ) from None
        if self.decode_errors:
            log.warning(
                "%s: %d audio packets could not be decoded and were skipped",
                self.path,
                self.decode_errors,
            )


def _without_end_padding(chunks: Iterator[np.ndarray], frames: int | None) -> Iterator[np.ndarray]:
    """``chunks`` (decoded codec frames) cut to ``frames`` where that ends inside the last one.

    Only the last frame's padding is taken out: if the count ends before the
    last frame (an MP3 track whose last packet has no duration in the sample
    table, say), it does not describe padding, and every sample is kept.
    """
    if frames is None:
        yield from chunks
        return
    seen = 0
    held = None
    for chunk in chunks:
        if not len(chunk):
            continue
        if held is not None:  # more after the frame the count ends in: not its padding
            yield held
            held, frames = None, None
        if frames is not None and seen + len(chunk) > frames:
            held = chunk
        else:
            yield chunk
        seen += len(chunk)
    if held is not None and frames is not None:
        kept = frames - (seen - len(held))
        if kept > 0:
            yield held[:kept]


def _edit_list_frames(container, st) -> int | None:
    """Frames an MP4/MOV audio track plays for, or None where the container cannot say.

    FFmpeg drops the encoder's priming that an MP4 edit list skips, but not the
    padding of the last AAC frame past the edit's end (up to 1023 samples of
    codec filler): the stream's duration, exact in MP4, says where to stop
    (see :func:`_without_end_padding`). Other containers' durations are
    estimates and are not trusted to cut audio.
    """
    if "mp4" not in container.format.name.split(",") or st.duration is None:
        return None
    rate = st.codec_context.sample_rate
    if not rate or st.time_base is None:
        return None
    return round(st.duration * st.time_base * rate)


def _reblock(
    chunks: Iterator[np.ndarray], block_frames: int, overlap: int, channels: int
) -> Iterator[np.ndarray]:
    """Cut a stream of arbitrary-length chunks into overlapping fixed-size blocks.

    Chunks are collected in a list and joined once per emitted block: decoders
    hand over ~1000-sample frames, and re-joining a growing buffer per chunk
    copied every block over a hundred times.
    """
    step = block_frames - overlap
    pending: list[np.ndarray] = []
    held = 0
    emitted_any = False
    for chunk in chunks:
        chunk = np.asarray(chunk, dtype=np.float32)
        if not held and not overlap and len(chunk) == block_frames:
            yield chunk  # already a block: no copy
            emitted_any = True
            continue
        pending.append(chunk)
        held += len(chunk)
        if held < block_frames:
            continue
        buffer = np.concatenate(pending)
        start = 0
        while len(buffer) - start >= block_frames:
            yield buffer[start : start + block_frames]
            emitted_any = True
            start += step
        pending, held = [buffer[start:]], len(buffer) - start
    buffer = np.concatenate(pending) if pending else np.empty((0, channels), np.float32)
    # the tail: frames not yet covered by an emitted block's non-overlap part
    if len(buffer) > (overlap if emitted_any else 0):
        yield buffer


def count_frames(
    path: str | os.PathLike[str], *, stream: int = 0, signal: SignalRequest | None = None
) -> tuple[int, int]:
    """Decode a whole file and return ``(frames, decode_errors)``; memory stays bounded."""
    reader = AudioReader(path, stream=stream, signal=signal)
    total = 0
    for block in reader.blocks(1 << 16):
        total += len(block)
    return total, reader.decode_errors
