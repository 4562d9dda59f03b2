"""Contact sheet: kept frames as labelled thumbnails on one image."""

from __future__ import annotations

import math

import numpy as np

from zhurong_tk.io._ffmpeg import cv2

#: Width of a thumbnail in pixels.
THUMB_WIDTH = 240


def thumbnail(image: np.ndarray, width: int = THUMB_WIDTH) -> np.ndarray:
    """BGR copy of ``image`` reduced (area averaging) to ``width`` pixels."""
    h, w = image.shape[:2]
    if w <= width:
        return image.copy()
    return cv2.resize(image, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


def contact_sheet(
    thumbs: list[np.ndarray],
    labels: list[str],
    *,
    columns: int | None = None,
    title: str = "",
) -> np.ndarray:
    """Thumbnails in a grid, each with its label in a strip below, as one BGR image.

    Parameters
    ----------
    thumbs : list of numpy.ndarray
        BGR thumbnails (sizes may differ; each cell is as large as the largest).
    labels : list of str
        One line per thumbnail (time, reason).
    columns : int, optional
        Default: about square, at most 6.
    title : str
        A line across the top.
    """
    if not thumbs:
        raise ValueError("a contact sheet needs at least one thumbnail")
    n = len(thumbs)
    columns = columns or min(6, max(1, math.ceil(math.sqrt(n))))
    rows = math.ceil(n / columns)
    cell_w = max(t.shape[1] for t in thumbs)
    cell_h = max(t.shape[0] for t in thumbs)
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.42, 1
    strip = 20
    pad = 6
    top = 28 if title else pad
    sheet = np.full(
        (top + rows * (cell_h + strip + pad), pad + columns * (cell_w + pad), 3), 24, np.uint8
    )
    if title:
        cv2.putText(sheet, title, (pad, 19), font, 0.5, (230, 230, 230), 1, cv2.LINE_AA)
    for i, (thumb, label) in enumerate(zip(thumbs, labels, strict=True)):
        r, c = divmod(i, columns)
        y = top + r * (cell_h + strip + pad)
        x = pad + c * (cell_w + pad)
        h, w = thumb.shape[:2]
        sheet[y : y + h, x : x + w] = thumb if thumb.ndim == 3 else thumb[..., None]
        # shorten the label to the cell
        text = label
        while text and cv2.getTextSize(text, font, scale, thickness)[0][0] > cell_w - 4:
            text = text[:-2] + "…" if len(text) > 2 else ""
        text = text.replace("…", "~")  # Hershey fonts are ASCII
        cv2.putText(
            sheet, text, (x + 2, y + cell_h + 14), font, scale, (235, 235, 235), 1, cv2.LINE_AA
        )
    return sheet
