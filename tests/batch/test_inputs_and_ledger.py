"""Batch inputs (folders, globs, manifests), result folders, and the ledger."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from zhurong_tk.batch import (
    Ledger,
    content_hash,
    expand_inputs,
    file_state,
    options_key,
    read_manifest,
    result_folders,
)
from zhurong_tk.errors import ParameterError
from zhurong_tk.io.sniff import AUDIO_SUFFIXES

AUDIO = AUDIO_SUFFIXES


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def archive(tmp_path):
    """sol1/ and sol2/ both hold a.wav; frames in natural order; noise to skip."""
    root = tmp_path / "archive"
    for name in ["sol1/a.wav", "sol2/a.wav", "sol2/deep/clip_10.flac", "sol2/deep/clip_2.flac"]:
        _touch(root / name, name.encode())
    for name in ["sol1/notes.txt", "sol1/.hidden.wav", "sol2/image.png"]:
        _touch(root / name)
    return root


def test_folders_are_searched_recursively_for_the_commands_types(archive):
    found = expand_inputs([archive], AUDIO)
    rel = [p.relative_to(archive).as_posix() for p in found]
    assert rel == ["sol1/a.wav", "sol2/a.wav", "sol2/deep/clip_2.flac", "sol2/deep/clip_10.flac"]


def test_globs_files_and_duplicates(archive):
    found = expand_inputs(
        [str(archive / "**" / "*.flac"), archive / "sol1" / "a.wav", archive / "sol1"], AUDIO
    )
    rel = [p.relative_to(archive).as_posix() for p in found]
    # the folder sol1 adds nothing new: a.wav was already named
    assert rel == ["sol2/deep/clip_2.flac", "sol2/deep/clip_10.flac", "sol1/a.wav"]


def test_a_named_file_is_kept_whatever_it_is_so_the_batch_can_record_why_it_failed(archive):
    missing = archive / "gone.wav"
    found = expand_inputs([missing, archive / "sol1" / "notes.txt"], AUDIO)
    assert found == [missing, archive / "sol1" / "notes.txt"]


def test_nothing_to_do_is_an_error(tmp_path):
    with pytest.raises(ParameterError, match="no input files found"):
        expand_inputs([tmp_path, str(tmp_path / "*.wav")], AUDIO)


def test_manifests_plain_and_csv(archive, tmp_path):
    plain = tmp_path / "list.txt"
    plain.write_text(f"# two clips\n{archive / 'sol1/a.wav'}\n\n../archive/sol2/a.wav\n")
    assert read_manifest(plain) == [
        str(archive / "sol1/a.wav"),
        str(tmp_path / "../archive/sol2/a.wav"),
    ]
    table = tmp_path / "clips.csv"
    table.write_text("sol,Path,note\n1,archive/sol1/a.wav,wind\n2,archive/sol2/a.wav,\n")
    assert read_manifest(table) == [
        str(tmp_path / "archive/sol1/a.wav"),
        str(tmp_path / "archive/sol2/a.wav"),
    ]
    found = expand_inputs([], AUDIO, manifest=table)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "archive/sol1/a.wav",
        "archive/sol2/a.wav",
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("file,size\na.wav,1\n")
    with pytest.raises(ParameterError, match="needs a 'path' column"):
        read_manifest(bad)
    with pytest.raises(ParameterError, match="cannot read the manifest"):
        read_manifest(tmp_path / "absent.txt")


def test_result_folders_never_collide_and_stay_inside(archive, tmp_path):
    odd = _touch(archive / "sol1" / "a b.wav")
    near = _touch(archive / "sol1" / "a_b.wav")
    inputs = [archive / "sol1/a.wav", archive / "sol2/a.wav", odd, near]
    out = tmp_path / "out"
    folders = result_folders(inputs, out)
    assert [f.relative_to(out).as_posix() for f in folders] == [
        "sol1/a.wav",
        "sol2/a.wav",
        "sol1/a_b.wav",
        "sol1/a_b.wav-2",
    ]
    # a lone input, or inputs whose names start with dots, still land inside
    dotted = _touch(tmp_path / "..weird" / "..x.wav")
    (folder,) = result_folders([dotted], out)
    assert folder.resolve().is_relative_to(out.resolve())
    assert folder.name == "x.wav"


def test_no_result_folder_lies_inside_another(archive, tmp_path):
    # "a b.wav" is sanitised to a_b.wav, the name of a folder of inputs beside it: its
    # result folder would hold c.wav's, and replacing it on a re-run would delete them
    odd = _touch(archive / "sol1" / "a b.wav")
    inner = _touch(archive / "sol1" / "a_b.wav" / "c.wav")
    out = tmp_path / "out"
    for inputs in ([odd, inner], [inner, odd]):
        folders = [f.relative_to(out).as_posix() for f in result_folders(inputs, out)]
        assert not any(a.startswith(b + "/") for a in folders for b in folders), folders
        assert sorted(folders) in (
            ["a_b.wav", "a_b.wav-2/c.wav"],
            ["a_b.wav-2", "a_b.wav/c.wav"],
        )
    # nor inside one an earlier run's input holds
    ledger = Ledger(out)
    ledger.append({"path": os.path.realpath(odd), "status": "done", "result": "a_b.wav"})
    held = result_folders([inner, odd], out, Ledger(out))
    assert held == [out / "a_b.wav-2" / "c.wav", out / "a_b.wav"]


def test_ledger_records_are_durable_and_a_cut_line_is_ignored(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.append({"path": "/a.wav", "status": "done", "sha256": "sha256:1", "options": "k"})
    ledger.append({"path": "/b.wav", "status": "failed", "error": "truncated"})
    with open(tmp_path / "ledger.jsonl", "a") as fh:
        fh.write('{"path": "/c.wav", "status": "do')  # killed mid-write
    again = Ledger(tmp_path)
    assert sorted(again.latest) == ["/a.wav", "/b.wav"]
    assert again.latest["/b.wav"]["error"] == "truncated"
    first = json.loads((tmp_path / "ledger.jsonl").read_text().splitlines()[0])
    assert first["schema"] == "zhurong-tk/batch.ledger/1"


def test_ledger_decides_what_a_rerun_does(tmp_path):
    clip = _touch(tmp_path / "in" / "a.wav", b"first")
    folder = tmp_path / "out" / "a.wav"
    ledger = Ledger(tmp_path / "out")
    key = options_key("audio analyze", {"n_fft": 4096})
    action, state = ledger.decide(clip, key, folder)
    assert action == "run" and state.sha256 == content_hash(clip)
    ledger.append(
        {
            "path": os.path.realpath(clip),
            "status": "done",
            "options": key,
            **vars(state),
        }
    )
    assert ledger.decide(clip, key, folder)[0] == "run"  # no result folder yet
    folder.mkdir(parents=True)
    assert ledger.decide(clip, key, folder)[0] == "skip-done"
    assert ledger.decide(clip, key, folder, force=True)[0] == "run"
    other = options_key("audio analyze", {"n_fft": 8192})
    assert other != key and ledger.decide(clip, other, folder)[0] == "run"
    clip.write_bytes(b"changed")  # new content: done again
    assert ledger.decide(clip, key, folder)[0] == "run"
    # a failure is skipped until asked to retry
    ledger.append({"path": os.path.realpath(clip), "status": "failed", "options": key,
                   **vars(ledger.decide(clip, key, folder)[1])})  # fmt: skip
    assert ledger.decide(clip, key, folder)[0] == "skip-failed"
    assert ledger.decide(clip, key, folder, retry_failed=True)[0] == "run"
    # an unreadable input runs, to be recorded as failed with its reason
    assert ledger.decide(tmp_path / "gone.wav", key, folder) == ("run", None)


def test_unchanged_files_are_not_read_again(tmp_path, monkeypatch):
    clip = _touch(tmp_path / "a.wav", b"data")
    ledger = Ledger(tmp_path / "out")
    _, state = ledger.decide(clip, "k", tmp_path)
    ledger.append({"path": os.path.realpath(clip), "status": "done", "options": "k", **vars(state)})

    def no_reading(path):
        raise AssertionError("hashed again")

    monkeypatch.setattr("zhurong_tk.batch.ledger.content_hash", no_reading)
    assert Ledger(tmp_path / "out").decide(clip, "k", tmp_path)[0] == "skip-done"


def test_a_result_folder_another_input_holds_is_not_taken_over(archive, tmp_path):
    out = tmp_path / "out"
    ledger = Ledger(out)
    first = archive / "sol1/a.wav"
    (folder,) = result_folders([first], out, ledger)
    assert folder == out / "a.wav"
    ledger.append({"path": os.path.realpath(first), "status": "done", "result": "a.wav"})
    # the same name from another folder, run later into the same output, goes beside it
    second = archive / "sol2/a.wav"
    assert result_folders([second], out, ledger) == [out / "a.wav-2"]
    ledger.append({"path": os.path.realpath(second), "status": "done", "result": "a.wav-2"})
    # each input keeps the folder it had, however the inputs are given next time
    both = result_folders([first, second], out, Ledger(out))
    assert both == [out / "a.wav", out / "a.wav-2"]


PRODUCT_LABEL = """<?xml version="1.0" encoding="UTF-8"?>
<Product_Observational xmlns="http://pds.nasa.gov/pds4/pds/v1">
  <File_Area_Observational><File><file_name>{name}</file_name></File></File_Area_Observational>
</Product_Observational>
"""


def test_a_pds4_products_state_covers_its_data_files(tmp_path):
    label = _touch(tmp_path / "p.2BL", PRODUCT_LABEL.format(name="p.2B").encode())
    data = _touch(tmp_path / "p.2B", b"\x00" * 64)
    before = file_state(label)
    data.write_bytes(b"\x01" * 64)  # same size, new content
    os.utime(data, ns=(before.mtime_ns - 10**9,) * 2)  # even with an older time
    assert file_state(label).sha256 != before.sha256
    assert file_state(label, {**vars(before)}).sha256 != before.sha256
    data.unlink()  # a data file gone changes it too
    assert file_state(label).sha256 != before.sha256


def test_a_label_naming_no_readable_file_still_has_a_state(tmp_path):
    # its task fails with the reason; the rerun skips it until something changes
    label = _touch(tmp_path / "p.2BL", PRODUCT_LABEL.format(name="sub").encode())
    (tmp_path / "sub").mkdir()  # names a folder, not a file
    ledger = Ledger(tmp_path / "out")
    action, state = ledger.decide(label, "k", tmp_path / "out" / "p.2BL")
    assert action == "run" and state is not None
    ledger.append({"path": os.path.realpath(label), "status": "failed", "options": "k",
                   **vars(state)})  # fmt: skip
    assert ledger.decide(label, "k", tmp_path / "out" / "p.2BL")[0] == "skip-failed"
