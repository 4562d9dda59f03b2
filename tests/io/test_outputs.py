from __future__ import annotations

import json
import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from zhurong_tk.errors import OutputExistsError, OutputWriteError
from zhurong_tk.io.outputs import OutputDir, atomic_path, dumps_json, report, write_csv, write_text


def test_existing_file_is_never_replaced_without_overwrite(tmp_path):
    target = tmp_path / "report.json"
    write_text(target, "first")
    with pytest.raises(OutputExistsError, match=r"report.json: already exists \(use --overwrite"):
        write_text(target, "second")
    assert target.read_text() == "first"
    write_text(target, "second", overwrite=True)
    assert target.read_text() == "second"


def test_failure_midway_leaves_neither_a_partial_file_nor_a_temp_file(tmp_path):
    target = tmp_path / "frames.csv"

    def rows():
        yield [1, 2.5]
        raise RuntimeError("analysis crashed")

    with pytest.raises(RuntimeError, match="analysis crashed"):
        write_csv(target, ["a", "b"], rows())
    assert list(tmp_path.iterdir()) == []


def test_temp_file_keeps_the_suffix_for_format_sniffing_writers(tmp_path):
    with atomic_path(tmp_path / "clip.flac") as tmp:
        assert tmp.suffix == ".flac" and tmp.parent == tmp_path
        tmp.write_bytes(b"x")
    assert (tmp_path / "clip.flac").read_bytes() == b"x"


def test_unwritable_destination_is_a_clear_error(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(
        OutputWriteError, match="not_a_folder: cannot write: exists and is not a folder"
    ):
        OutputDir(blocker)
    with pytest.raises(OutputWriteError, match="cannot write"):
        write_text(blocker / "report.json", "{}")
    # a folder to be made under a file: said before anything is written
    with pytest.raises(
        OutputWriteError,
        match=r"not_a_folder/run/a: cannot write: is inside .*not_a_folder, which is not a folder",
    ):
        OutputDir(blocker / "run" / "a")


def test_a_read_only_folder_is_found_before_any_work(tmp_path, monkeypatch):
    import os

    from zhurong_tk.io.outputs import check_folder_writable

    real_access = os.access
    # as a read-only file system answers, even to root
    monkeypatch.setattr(os, "access", lambda p, mode: p != tmp_path and real_access(p, mode))
    with pytest.raises(
        OutputWriteError, match=r"run/sub: cannot write: the folder \(.*\) is read-only"
    ):
        check_folder_writable(tmp_path / "run" / "sub")
    check_folder_writable(tmp_path.parent / "elsewhere")  # writable: no error
    assert not (tmp_path / "run").exists()  # nothing made


def test_disk_full_is_reported_and_cleaned_up(tmp_path, monkeypatch):
    import errno
    import os

    def full(*_args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("zhurong_tk.io.outputs._fsync", full)
    with pytest.raises(OutputWriteError, match="No space left on device"):
        write_text(tmp_path / "big.json", "{}")
    assert list(tmp_path.iterdir()) == []


def test_json_is_strict_non_finite_become_null():
    doc = {"a": np.float32(1.5), "b": float("nan"), "c": np.array([1.0, np.inf]), "d": np.int64(3)}
    text = dumps_json(doc)
    assert json.loads(text) == {"a": 1.5, "b": None, "c": [1.0, None], "d": 3}
    assert "NaN" not in text and "Infinity" not in text


def test_json_keeps_lists_of_numbers_on_one_line_and_the_rest_indented():
    spectrum = np.linspace(0.0, 1.0, 2049)
    doc = {
        "psd": spectrum,
        "flags": [True, False],  # booleans are not numbers here
        "names": ["a", "b"],
        "nested": [[1, 2], [3, None]],
        "tricky": "0123456789abcdef:0",  # looks like a placeholder
        "events": [{"t": 1.5}],
    }
    text = dumps_json(doc)
    assert json.loads(text) == {**doc, "psd": spectrum.tolist()}
    lines = text.splitlines()
    assert lines[1].startswith('  "psd": [0.0, 0.0004882') and lines[1].endswith("1.0],")
    assert "    [1, 2]," in lines and "    [3, null]" in lines
    assert '  "flags": [' in lines and "    true," in lines
    assert '      "t": 1.5' in lines
    assert len(lines) < 30


def test_report_carries_its_schema():
    r = report("audio.analyze", 2, x=1)
    assert r["schema"] == "zhurong-tk/audio.analyze/2" and r["x"] == 1


def test_output_dir_writes_every_artifact_kind(tmp_path):
    out = OutputDir(tmp_path / "run")
    out.check_free("report.json")
    out.json("report.json", {"schema": "t", "v": math.pi})
    out.csv("frames.csv", ["t", "rms"], [[0.0, 1.0], [0.5, float("nan")]])
    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [1, 0])
    out.figure("plot.png", fig)
    assert (tmp_path / "run" / "frames.csv").read_text().splitlines() == [
        "t,rms",
        "0.0,1.0",
        "0.5,",
    ]
    assert (tmp_path / "run" / "plot.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(OutputExistsError):
        out.check_free("plot.png")
    OutputDir(tmp_path / "run", overwrite=True).check_free("plot.png")


def test_finish_removes_only_this_commands_stale_files(tmp_path):
    first = OutputDir(tmp_path)
    first.text("a.txt", "1")
    first.text("old_frame.jpg", "1")
    first.finish("video frames")
    other = OutputDir(tmp_path)
    other.text("b.txt", "2")
    other.finish("tracks detect")
    (tmp_path / "mine.txt").write_text("the user's")
    # a run without --overwrite removes nothing
    OutputDir(tmp_path).finish("video frames")
    assert (tmp_path / "old_frame.jpg").exists()
    again = OutputDir(tmp_path, overwrite=True)
    again.text("a.txt", "3")
    assert again.finish("video frames") == ["old_frame.jpg"]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "a.txt",
        "b.txt",
        "mine.txt",
    ]
    record = json.loads((tmp_path / OutputDir.MANIFEST).read_text())["files"]
    assert record == {"a.txt": "video frames", "b.txt": "tracks detect"}


def test_finish_never_follows_a_recorded_path_out_of_the_folder(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / OutputDir.MANIFEST).write_text(
        json.dumps({"files": {"../outside.txt": "audio analyze", "gone.wav": "audio analyze"}})
    )
    assert OutputDir(folder, overwrite=True).finish("audio analyze") == []
    assert outside.read_text() == "keep"
    # a damaged record is no reason to fail a run that succeeded
    (folder / OutputDir.MANIFEST).write_text("{not json")
    out = OutputDir(folder, overwrite=True)
    out.text("r.json", "{}")
    assert out.finish("audio analyze") == []


def test_a_run_that_fails_takes_its_files_and_new_folder_with_it(tmp_path):
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "mine.txt").write_text("not the run's")
    for folder in ("new", "kept"):
        with pytest.raises(OSError, match="export failed"), OutputDir(tmp_path / folder) as out:
            out.text("report.json", "{}")
            (out / "export.wav").write_bytes(b"RIFF")
            out.adopt("export.wav")
            raise OSError("export failed")
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["mine.txt"]
    with OutputDir(tmp_path / "kept") as out:  # the re-run needs no overwrite
        out.text("report.json", "{}")
    assert (tmp_path / "kept" / "report.json").read_text() == "{}"
