"""Chunks of a long clip: where they start and end, the cross-fade of the frames two
chunks share, and the warping error at those seams against inside the chunks; frames
are taken and given one at a time (a chunk's at a time), so a clip's length costs no
memory."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from . import flow


@dataclass(frozen=True)
class Chunking:
    """How a clip is cut: chunks of ``length`` frames, consecutive ones sharing
    ``overlap`` frames (at most half a chunk, so a frame is in two chunks at most)."""

    length: int = 24
    overlap: int = 4

    def __post_init__(self) -> None:
        if self.length < 2:
            raise ConfigError(f"chunk length must be ≥ 2 frames, got {self.length}")
        if not 1 <= self.overlap <= self.length // 2:
            raise ConfigError(
                f"overlap {self.overlap} must be from 1 to half the chunk ({self.length // 2})"
            )


def spans(count: int, chunking: Chunking) -> list[tuple[int, int]]:
    """The chunks of a clip of ``count`` frames, as ``(first, end)``, ``end`` excluded."""
    if count <= chunking.length:
        return [(0, count)]
    step = chunking.length - chunking.overlap
    starts = range(0, count - chunking.overlap, step)
    return [(s, min(s + chunking.length, count)) for s in starts]


def fade(overlap: int) -> np.ndarray:
    """The later chunk's share of each shared frame, rising across the overlap."""
    return (np.arange(overlap) + 1.0) / (overlap + 1)


def stitch(
    chunk_spans: Sequence[tuple[int, int]], chunks: Iterable[list[np.ndarray]]
) -> Iterator[np.ndarray]:
    """The clip's frames from its chunks (each read as its turn comes), the shared
    frames cross-faded; a frame is given out once no later chunk holds it, so one
    chunk's frames are held at a time."""
    held: list[np.ndarray] = []  # the last chunk's frames that this one shares
    starts = [first for first, _ in chunk_spans[1:]]
    for i, ((first, end), frames) in enumerate(zip(chunk_spans, chunks, strict=True)):
        if len(frames) != end - first or (i and first + len(held) != chunk_spans[i - 1][1]):
            raise ValueError(f"chunk {i} does not follow the one before")
        mixed = [
            np.clip(np.rint((1 - share) * held[j] + share * frames[j]), 0, 255).astype(np.uint8)
            for j, share in enumerate(fade(len(held)))
        ]
        merged = mixed + frames[len(held) :]
        upto = (starts[i] if i < len(starts) else end) - first
        yield from merged[:upto]
        held = merged[upto:]


def seams(chunk_spans: Sequence[tuple[int, int]]) -> set[int]:
    """The cross-faded frames: where consecutive chunks overlap."""
    return {
        t for (_, end), (first, _) in itertools.pairwise(chunk_spans) for t in range(first, end)
    }


def seam_errors(
    frames: Iterable[tuple[np.ndarray, np.ndarray]],
    chunk_spans: Sequence[tuple[int, int]],
    settings: flow.FlowSettings,
) -> dict[str, float | int | None]:
    """Lai et al.'s warping error of the outputs (and of the inputs, the floor) of
    ``frames``, each ``(input, output)`` given one at a time, over the whole clip, over
    the pairs of frames that touch a cross-faded frame (the seams), and over the others
    (inside the chunks)."""
    shared = seams(chunk_spans)
    at_seam: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    pairs = flow.pair_errors(((i, (o, i)) for i, o in frames), settings)
    for t, (output, floor) in enumerate(pairs):
        at_seam[t in shared or t + 1 in shared].append((output, floor))
    every = at_seam[True] + at_seam[False]
    return {
        "warping_error": _mean(every, 0),
        "warping_error_input": _mean(every, 1),
        "seam_pairs": len(at_seam[True]),
        "warping_error_seams": _mean(at_seam[True], 0),
        "warping_error_inside": _mean(at_seam[False], 0),
        "warping_error_input_seams": _mean(at_seam[True], 1),
        "warping_error_input_inside": _mean(at_seam[False], 1),
    }


def _mean(pairs: list[tuple[float, float]], which: int) -> float | None:
    return float(np.mean([p[which] for p in pairs])) if pairs else None
