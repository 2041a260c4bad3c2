"""The warping error of a stylised clip against the clip it was made from
(``painterly video-score``), both read as streams, two frames at a time.

The input is read at the size the output was made at: the size its record names, else
the input's own size or the output's, and one pixel less on a side that a video
output made even (YUV 4:2:0 needs even sides; such a side was padded by repeating its
last row or column, which is cropped off again here).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ImageError
from . import clips, flow
from .clips import Clip


@dataclass(frozen=True)
class Score:
    """A clip's warping error, the input's own (the floor), over ``frames`` of ``size``."""

    error: float
    floor: float
    frames: int
    size: tuple[int, int]  # (W, H) at which it was scored


def score(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    frames: tuple[int | None, int | None] = (None, None),
    settings: flow.FlowSettings | None = None,
) -> Score:
    """The warping error of ``output``, flow taken on ``source`` (videos, folders or
    globs; ``frames``: the span of ``source`` that ``output`` holds)."""
    out = clips.open_clip(output, None)
    own = clips.open_clip(source, None, frames)
    given = matched(own, out, _made_at(Path(output)))
    if given is None or given.count != out.count:
        h, w = out.shape
        found = own.resized(max(h, w))
        hint = (
            "give the input's --frames the output was made from"
            if found.count != out.count
            else "give the clip the output was made from"
        )
        raise ImageError(
            f"output '{output}' has {out.count} frames of {w}×{h}, input '{source}' "
            f"{found.count} of {found.shape[1]}×{found.shape[0]} at that size: {hint}"
        )
    error, floor = flow.mean_errors(flow.pair_errors(_pairs(given, out), settings), 2)
    return Score(error, floor, given.count, (given.shape[1], given.shape[0]))


def matched(own: Clip, out: Clip, made_at: int | None = None) -> Clip | None:
    """The input clip ``own`` (as decoded) at the size whose frames ``out``'s are, or are
    with odd sides made even: ``made_at`` (the record's longest side) first, then the
    input's own size, the output's, and one pixel less; ``None`` if none fits."""
    h, w = out.shape
    sides = [made_at] if made_at else []
    for side in [*sides, None, max(h, w), max(h, w) - 1]:
        given = own.resized(side)
        gh, gw = given.shape
        if (gh, gw) == (h, w) or (gh + gh % 2, gw + gw % 2) == (h, w):
            return given
    return None


def _made_at(output: Path) -> int | None:
    """The longest side a painterly record beside ``output`` says it was made at."""
    try:
        size = json.loads(output.with_suffix(".json").read_text())["size"]
        return int(max(size))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _pairs(given: Clip, out: Clip) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
    """Each input frame with the output's, cropped to it, and itself (for the floor)."""
    h, w = given.shape
    for frame, made in zip(given.frames(), out.frames(), strict=True):
        now = clips.as_float(frame)
        yield now, [clips.as_float(made[:h, :w]), now]
