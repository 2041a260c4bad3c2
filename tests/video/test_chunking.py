"""Chunks of a long clip: where they fall, the cross-fade where two meet, the seams."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from painterly.errors import ConfigError
from painterly.files.samples import moving_clip
from painterly.video.chunking import Chunking, fade, seam_errors, seams, spans, stitch
from painterly.video.flow import FlowSettings


def test_chunks_cover_the_clip_and_share_the_overlap() -> None:
    found = spans(10, Chunking(4, 2))
    assert found == [(0, 4), (2, 6), (4, 8), (6, 10)]
    assert spans(9, Chunking(4, 2))[-1] == (6, 9)
    assert spans(3, Chunking(4, 2)) == [(0, 3)]  # a short clip is one chunk
    for (_, end), (first, _) in itertools.pairwise(found):
        assert end - first == 2
    assert seams(found) == {2, 3, 4, 5, 6, 7}


@pytest.mark.parametrize(("length", "overlap"), [(1, 1), (4, 0), (4, 3)])
def test_chunking_refuses_overlaps_that_do_not_fit(length: int, overlap: int) -> None:
    with pytest.raises(ConfigError, match="chunk"):
        Chunking(length, overlap)


def test_shared_frames_fade_from_one_chunk_to_the_next() -> None:
    dark = [np.zeros((2, 3, 3), np.uint8) for _ in range(4)]
    light = [np.full((2, 3, 3), 90, np.uint8) for _ in range(4)]
    out = list(stitch([(0, 4), (2, 6)], iter([dark, light])))
    assert [int(f[0, 0, 0]) for f in out] == [0, 0, 30, 60, 90, 90]
    assert fade(2).tolist() == pytest.approx([1 / 3, 2 / 3])


def test_seam_errors_split_the_pairs_and_a_jump_shows_at_the_seam() -> None:
    clip = [f.astype(np.float32) / 255 for f in moving_clip(6, 48, pan=0.1, zoom=0.0, thing=False)]
    chunk_spans = [(0, 4), (2, 6)]
    same = seam_errors(zip(clip, clip, strict=True), chunk_spans, FlowSettings())
    assert same["seam_pairs"] == 3  # pairs (1,2), (2,3), (3,4) touch frames 2 and 3
    assert same["warping_error"] == same["warping_error_input"]
    jumped = [f if t < 3 else np.clip(f + 0.2, 0, 1) for t, f in enumerate(clip)]
    errors = seam_errors(zip(clip, jumped, strict=True), chunk_spans, FlowSettings())
    assert errors["warping_error_seams"] > 10 * errors["warping_error_inside"]  # type: ignore[operator]
