from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.conftest import BAD, manifest_entries, sample_path
from zhurong_tk.errors import MediaReadError, ParameterError, UnsupportedFormatError
from zhurong_tk.io.image import max_pixels_default, probe_image, read_image, verify_image


@pytest.mark.parametrize(
    ("suffix", "shape", "dtype", "channels"),
    [
        (".png", (40, 60), np.uint8, 1),
        (".png", (40, 60), np.uint16, 1),
        (".png", (40, 60, 3), np.uint8, 3),
        (".png", (40, 60, 4), np.uint8, 4),
        (".png", (40, 60, 3), np.uint16, 3),
        (".tif", (40, 60, 3), np.uint16, 3),
        (".jpg", (40, 60, 3), np.uint8, 3),
    ],
)
def test_depth_and_channels_are_kept(tmp_path, rng, suffix, shape, dtype, channels):
    top = np.iinfo(dtype).max
    pixels = rng.integers(0, top, size=shape, dtype=dtype)
    path = tmp_path / f"img{suffix}"
    assert cv2.imwrite(str(path), pixels)
    info = probe_image(path)
    assert (info.width, info.height, info.channels, info.dtype) == (
        60,
        40,
        channels,
        np.dtype(dtype).name,
    )
    out = read_image(path)
    assert out.shape == shape and out.dtype == dtype
    if suffix != ".jpg":
        np.testing.assert_array_equal(out, pixels)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("truncated.jpg", r"truncated JPEG \(no end-of-image marker\)"),
        ("truncated.png", r"truncated PNG \(no IEND chunk\)"),
        ("zero_size.png", "corrupt PNG header"),
        (
            "huge_dimensions.png",
            "image claims 40,000,000,000 pixels, above the limit of 150,000,000",
        ),
        ("empty.jpg", r"empty file \(0 bytes\)"),
    ],
)
def test_bad_images_name_the_problem(name, reason):
    with pytest.raises(MediaReadError, match=reason):
        read_image(BAD / name)


def test_a_corrupt_tiff_strip_is_an_error_not_a_line_on_stderr(capfd):
    # cv2 returned the damaged pixels and libtiff's complaint went to the terminal only
    with pytest.raises(MediaReadError, match=r"corrupt TIFF data \(Using code not yet in table"):
        read_image(BAD / "corrupt_lzw.tif")
    with pytest.raises(MediaReadError, match="TIFF data do not decode"):
        verify_image(BAD / "corrupt_lzw.tif")
    assert capfd.readouterr().err == ""


def test_a_corrupt_exif_block_is_a_note_not_a_warning_on_stderr(capfd):
    info = probe_image(BAD / "corrupt_exif.jpg")
    assert info.notes == ("Corrupt EXIF data. Expecting to read 12 bytes but only got 8.",)
    assert info.orientation == 1
    assert read_image(BAD / "corrupt_exif.jpg").shape == (48, 64, 3)
    assert capfd.readouterr().err == ""


def test_not_an_image():
    with pytest.raises(UnsupportedFormatError, match=r"not an image \(content is WAV audio\)"):
        probe_image(BAD / "audio_named.jpg")


def test_pixel_limit_is_configurable(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), np.zeros((100, 100), np.uint8))
    with pytest.raises(MediaReadError, match="100×100 = 10,000 pixels, above the limit of 9,999"):
        probe_image(path, max_pixels=9_999)
    monkeypatch.setenv("ZHURONG_TK_MAX_PIXELS", "5000")
    assert max_pixels_default() == 5000
    with pytest.raises(MediaReadError, match="above the limit of 5,000"):
        read_image(path)
    monkeypatch.setenv("ZHURONG_TK_MAX_PIXELS", "lots")
    with pytest.raises(
        ParameterError, match="ZHURONG_TK_MAX_PIXELS must be a whole number, got 'lots'"
    ):
        max_pixels_default()


def _png_header_only(path, width, height):
    """A PNG whose header claims ``width`` × ``height`` grey pixels (no image data)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def test_pixel_limit_can_be_raised_past_pillows_own(tmp_path):
    # Pillow refuses above 2 x its MAX_IMAGE_PIXELS (179 MP) whatever the user's limit was,
    # and the message then named the user's limit: "claims 201,840,000, above 300,000,000"
    path = _png_header_only(tmp_path / "mosaic.png", 17_400, 11_600)
    info = probe_image(path, max_pixels=300_000_000)
    assert (info.width, info.height) == (17_400, 11_600)
    with pytest.raises(MediaReadError, match="201,840,000 pixels, above the limit of 150,000,000"):
        probe_image(path, max_pixels=150_000_000)
    from PIL import Image

    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # Pillow's own guard is left as it was


def test_verify_catches_corrupt_data_behind_a_valid_header(tmp_path):
    _, data = cv2.imencode(
        ".png", np.arange(64 * 64, dtype=np.uint16).reshape(64, 64).astype(np.uint8)
    )
    raw = bytearray(data.tobytes())
    idat = raw.index(b"IDAT")
    raw[idat + 8 : idat + 40] = b"\xff" * 32  # scramble the compressed stream, keep IEND
    path = tmp_path / "scrambled.png"
    path.write_bytes(bytes(raw))
    assert probe_image(path).width == 64  # the header is fine
    with pytest.raises(MediaReadError, match="PNG data do not decode"):
        verify_image(path)


@pytest.mark.samples
@pytest.mark.parametrize("entry", manifest_entries("image"), ids=lambda e: e["path"])
def test_real_images_match_the_manifest(samples_root, entry):
    path = sample_path(samples_root, entry["path"])
    info = probe_image(path)
    expect = entry["expect"]
    assert (info.width, info.height, info.channels, info.dtype) == (
        expect["width"],
        expect["height"],
        expect["channels"],
        expect["dtype"],
    )


def test_read_image_reduced(tmp_path):
    rng = np.random.default_rng(3)
    colour = (rng.random((64, 96, 3)) * 255).astype(np.uint8)
    for suffix in (".jpg", ".png"):
        path = tmp_path / f"img{suffix}"
        cv2.imwrite(str(path), colour)
        for factor in (2, 4, 8):
            reduced = read_image(path, reduce=factor)
            assert reduced.shape == (64 // factor, 96 // factor, 3)
            # the mean level survives the reduction (DCT scaling or area averaging)
            assert abs(float(reduced.mean()) - float(colour.mean())) < 3.0
    deep = tmp_path / "deep.png"
    cv2.imwrite(str(deep), (colour[:, :, 0].astype(np.uint16) * 257))
    assert read_image(deep, reduce=2).dtype == np.uint16
    with pytest.raises(ParameterError, match="reduce"):
        read_image(deep, reduce=3)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_at_every_reduction(tmp_path, rng, orientation, suffix):
    # upright, as viewers show it (Pillow's exif_transpose is the reference), whatever the
    # decode: the reduced JPEG modes, the full one, and cv2's TIFF decoder that turns the
    # image itself; the header's size is the upright size, so coordinates scale right
    from PIL import Image, ImageOps

    stored = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    stored[:16, :24] = 255  # a corner that shows which way round it is
    picture = Image.fromarray(stored)
    exif = picture.getexif()
    exif[0x0112] = orientation
    path = tmp_path / f"turned{suffix}"
    if suffix == ".tif":
        picture.save(path, exif=exif)
    else:
        picture.save(path, exif=exif.tobytes(), quality=95)
    with Image.open(path) as im:
        upright = np.asarray(ImageOps.exif_transpose(im))[..., ::-1]  # RGB to cv2's BGR
    info = probe_image(path)
    assert info.orientation == orientation
    assert (info.height, info.width) == upright.shape[:2]
    full = read_image(path)
    assert full.shape == upright.shape
    assert np.abs(full.astype(int) - upright).mean() < 2.0  # JPEG decoders differ a little
    for reduce in (2, 4, 8):
        reduced = read_image(path, reduce=reduce)
        assert reduced.shape[:2] == (upright.shape[0] // reduce, upright.shape[1] // reduce)
        corner = np.unravel_index(
            np.argmax(cv2.blur(reduced.mean(axis=2), (3, 3))), reduced.shape[:2]
        )
        expect = np.unravel_index(
            np.argmax(cv2.blur(upright.mean(axis=2), (9, 9))), upright.shape[:2]
        )
        assert abs(corner[0] * reduce - expect[0]) < 16 and abs(corner[1] * reduce - expect[1]) < 16


def _jpeg(tmp_path, rng, grey=False):
    image = cv2.GaussianBlur(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8), (0, 0), 2)
    if grey:
        image = image[..., 0]
    path = tmp_path / ("grey.jpg" if grey else "colour.jpg")
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return path, image


def test_a_jpeg_whose_data_end_early_is_refused_not_filled_grey(tmp_path, rng):
    from zhurong_tk.io.image import verify_image

    path, _ = _jpeg(tmp_path, rng)
    data = path.read_bytes()
    scan = data.find(b"\xff\xda")
    gutted = tmp_path / "gutted.jpg"
    # the first quarter of the picture's data, then the end-of-image marker: cv2 and Pillow
    # decode it without a word, the rest grey
    gutted.write_bytes(data[: scan + (len(data) - scan) // 4] + b"\xff\xd9")
    assert cv2.imread(str(gutted)) is not None
    for reduce in (1, 2):
        with pytest.raises(
            MediaReadError, match=r"gutted.jpg: corrupt JPEG data \(.*premature end"
        ):
            read_image(gutted, reduce=reduce)
    with pytest.raises(MediaReadError, match="corrupt JPEG data"):
        verify_image(gutted)


@pytest.mark.parametrize("grey", [False, True])
def test_jpeg_pixels_are_cv2_s_and_stray_bytes_before_the_end_are_harmless(tmp_path, rng, grey):
    path, _ = _jpeg(tmp_path, rng, grey)
    reference = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    pixels = read_image(path)
    assert pixels.shape == reference.shape and pixels.dtype == np.uint8
    assert np.abs(pixels.astype(int) - reference).mean() < 1.0
    for reduce in (2, 4, 8):
        reduced = read_image(path, reduce=reduce)
        assert reduced.shape[:2] == (96 // reduce, 128 // reduce)
        assert abs(float(reduced.mean()) - float(reference.mean())) < 2.0
    data = path.read_bytes()
    padded = tmp_path / "padded.jpg"
    padded.write_bytes(data[:-2] + b"\x00\x00\x00" + data[-2:])  # libjpeg warns, nothing lost
    assert np.array_equal(read_image(padded), pixels)


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_bytes_appended_after_an_image_s_end_are_not_truncation(tmp_path, rng, suffix):
    # a motion photo's video, a vendor's trailer, padding: the end marker is not in the
    # last bytes; walked from the start the image is whole. Cut short it is still refused
    pixels = rng.integers(0, 255, (40, 60, 3), np.uint8)
    whole = cv2.imencode(suffix, pixels)[1].tobytes()
    trailed = tmp_path / f"trailed{suffix}"
    trailed.write_bytes(whole + bytes(200))
    assert read_image(trailed).shape == (40, 60, 3)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole[: len(whole) - 40] + bytes(200))
    with pytest.raises(MediaReadError, match="truncated"):
        probe_image(cut)


def test_a_jpeg_with_a_thumbnail_cut_short_is_still_truncated(tmp_path, rng):
    # the EXIF thumbnail (in APP1, before the image's scan) ends with its own FF D9
    from PIL import Image

    picture = Image.fromarray(rng.integers(0, 255, (64, 96, 3), np.uint8))
    thumb = tmp_path / "thumb.jpg"
    Image.fromarray(rng.integers(0, 255, (8, 8, 3), np.uint8)).save(thumb)
    exif = picture.getexif()
    exif[0x0112] = 1
    picture.save(tmp_path / "full.jpg", exif=exif.tobytes() + b"\xff\xd8" + thumb.read_bytes())
    data = (tmp_path / "full.jpg").read_bytes()
    assert data.count(b"\xff\xd9") >= 2
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) - 100] + bytes(200))
    with pytest.raises(MediaReadError, match="truncated JPEG"):
        probe_image(cut)


def test_a_png_is_described_without_decoding_it(tmp_path, rng, monkeypatch):
    # Pillow decodes a whole PNG to look for EXIF after its pixels: 0.6 s for 20 MP, and
    # before the pixel limit was checked
    from PIL import PngImagePlugin

    path = tmp_path / "plain.png"
    cv2.imwrite(str(path), rng.integers(0, 255, (40, 60), np.uint8))

    decoded = []
    load = PngImagePlugin.PngImageFile.load

    def counted(self):
        decoded.append(self)
        return load(self)

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", counted)
    info = probe_image(path)
    assert (info.width, info.height, info.orientation) == (60, 40, 1)
    with pytest.raises(MediaReadError, match="above the limit"):
        probe_image(path, max_pixels=1000)
    assert decoded == []


@pytest.mark.parametrize(
    ("pixels", "dtype"),
    [
        (np.linspace(0, 1, 40 * 60).reshape(40, 60), "float64"),
        (np.linspace(0, 1, 40 * 60 * 3, dtype=np.float32).reshape(40, 60, 3), "float32"),
        (np.arange(-1200, 1200, dtype=np.int16).reshape(40, 60), "int16"),
    ],
)
def test_tiffs_pillow_does_not_open_are_read_from_their_header(tmp_path, pixels, dtype):
    # float64 and colour float TIFFs were refused as "corrupt TIFF header"; signed ones
    # were described as unsigned
    path = tmp_path / "deep.tif"
    assert cv2.imwrite(str(path), pixels)
    info = probe_image(path)
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    assert (info.width, info.height, info.channels, info.dtype) == (60, 40, channels, dtype)
    np.testing.assert_array_equal(read_image(path), pixels)
