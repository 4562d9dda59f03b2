from __future__ import annotations

import pytest

from tests.conftest import BAD
from zhurong_tk.errors import MediaReadError
from zhurong_tk.io.sniff import Kind, sniff, suffix_kind


@pytest.mark.parametrize(
    ("head", "kind", "fmt"),
    [
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", Kind.AUDIO, "WAV"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", Kind.CONTAINER, "AVI"),
        (b"fLaC\x00\x00\x00\x22", Kind.AUDIO, "FLAC"),
        (b"OggS\x00\x02", Kind.AUDIO, "OGG"),
        (b"ID3\x04\x00", Kind.AUDIO, "MP3"),
        (b"\xff\xfb\x90\x00", Kind.AUDIO, "MP3"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00", Kind.CONTAINER, "M4A"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00", Kind.CONTAINER, "MP4/MOV"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86", Kind.CONTAINER, "Matroska/WebM"),
        (b"\x89PNG\r\n\x1a\n\x00", Kind.IMAGE, "PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", Kind.IMAGE, "JPEG"),
        (b"II*\x00\x08\x00", Kind.IMAGE, "TIFF"),
        (b"<?xml version='1.0'?><Product_Observational", Kind.XML, "XML"),
        (b"<!DOCTYPE html><html>", Kind.UNKNOWN, "HTML"),
        (b"hello world\n", Kind.UNKNOWN, "text"),
        (b"\x00\x01\x02\x03\x99", Kind.UNKNOWN, "unknown"),
    ],
)
def test_content_decides_the_kind(tmp_path, head, kind, fmt):
    path = tmp_path / "file.bin"
    path.write_bytes(head + b"\n" * 32)
    assert sniff(path) == (kind, fmt)


def test_missing_empty_and_folder_are_read_errors(tmp_path):
    with pytest.raises(MediaReadError, match="no such file"):
        sniff(tmp_path / "absent.wav")
    with pytest.raises(MediaReadError, match=r"empty file \(0 bytes\)"):
        sniff(BAD / "empty.wav")
    with pytest.raises(MediaReadError, match="is a folder"):
        sniff(tmp_path)


def test_suffix_kind_is_only_a_hint():
    assert suffix_kind("a/b/EGRESS.WAV") == "audio"
    assert suffix_kind("x.webm") == "video"
    assert suffix_kind("x.jpeg") == "image"
    assert suffix_kind("x.2BL") is None
    assert sniff(BAD / "image_named.wav") == (Kind.IMAGE, "PNG")
