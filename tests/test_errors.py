from __future__ import annotations

import pickle

import pytest

from zhurong_tk import errors


@pytest.mark.parametrize(
    ("exc", "builtin", "code"),
    [
        (errors.ParameterError("n_fft must be positive, got -1"), ValueError, 2),
        (errors.MediaReadError("a.wav", "empty file (0 bytes)"), OSError, 1),
        (errors.UnsupportedFormatError("a.txt", "not audio"), OSError, 1),
        (errors.OutputExistsError("out/report.json"), FileExistsError, 1),
        (errors.OutputWriteError("out/report.json", "No space left on device"), OSError, 1),
    ],
)
def test_errors_are_builtin_types_with_exit_codes(exc, builtin, code):
    assert isinstance(exc, errors.ZhurongError)
    assert isinstance(exc, builtin)
    assert exc.exit_code == code


def test_media_read_error_names_the_file_and_survives_pickling():
    exc = errors.MediaReadError(
        "/data/egress.wav", "truncated: header declares 2,044 bytes, file has 244"
    )
    assert str(exc) == "/data/egress.wav: truncated: header declares 2,044 bytes, file has 244"
    back = pickle.loads(pickle.dumps(exc))  # worker processes send errors back
    assert type(back) is errors.MediaReadError
    assert (back.path, back.reason) == (exc.path, exc.reason)
    assert str(pickle.loads(pickle.dumps(errors.OutputExistsError("x")))) == str(
        errors.OutputExistsError("x")
    )
