"""What a clip's run must agree with to continue the frames or chunks of an earlier
one, and where that is kept.

A run is identified as a batch's item is, by :func:`painterly.cluster.task.resume_key`:
the SHA-256 of what its frames are read from (a video file, or the frame files chosen)
and of its styles, the config and the clip's settings. So the same clip is the same
however its path is typed (``./frames``, ``frames/``, an absolute path), and a clip
whose content changed is another one. The identity also keeps the resolved paths and
the settings, so that a folder holding another run's work can say what differs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..cluster.task import resume_key
from ..config.settings import Config
from ..errors import OutputError
from ..files import atomic
from ..nn.weights import sha256_of
from ..transfer.inputs import ImageLike
from .clips import Clip

SHOWN = 3  # differing options named in a refusal; the others are counted


def clip_identity(
    cfg: Config,
    video: dict[str, Any],
    clip: Clip,
    styles: Sequence[dict[str, str]],
    span: tuple[int | None, int | None],
    fps: float | None,
    **more: Any,
) -> dict[str, Any]:
    """The ``key`` of a run of ``clip`` with ``styles`` (each ``{"path", "sha256"}``),
    its config, ``video`` settings, ``span`` (``--frames``), ``fps`` and ``more``
    settings (a chunked clip's chunking), beside what they are, as JSON data."""
    digest = clip.digest()
    settings = {"frames": list(span), "resample_fps": fps, "video": video, **more}
    key = resume_key([digest, *(s["sha256"] for s in styles)], cfg, **settings)
    about = {"input": {"path": resolved(clip.name), "sha256": digest}, "styles": list(styles)}
    identity = {"key": key, **about, **settings, "config": cfg.to_json()}
    return dict(json.loads(json.dumps(identity)))


def resolved(source: str) -> str:
    """A path as the same file however it is typed (a glob: its folder resolved)."""
    path = Path(source)
    if path.exists():
        return str(path.resolve())
    return str(path.parent.resolve() / path.name)


def style_entries(
    styles: Sequence[ImageLike], loaded: Sequence[torch.Tensor]
) -> list[dict[str, str]]:
    """Each style's path and SHA-256: of its file, or of its pixels as loaded when it
    was given as an image."""
    entries = []
    for given, image in zip(styles, loaded, strict=True):
        if isinstance(given, (str, os.PathLike)):
            entries.append({"path": resolved(str(given)), "sha256": sha256_of(Path(given))})
        else:
            pixels = np.ascontiguousarray(image.numpy()).tobytes()
            entries.append({"path": "image", "sha256": hashlib.sha256(pixels).hexdigest()})
    return entries


def open_state(state_file: Path, fresh: dict[str, Any], what: str, make: Path) -> dict[str, Any]:
    """The state an earlier run with the same identity's key (in ``fresh``) saved in
    ``state_file`` (its identity brought up to date: the paths as typed now), or
    ``fresh`` for a new run, after creating the folder ``make``. A folder holding
    another run's ``what`` is refused, naming what differs; one holding anything else
    too."""
    work = state_file.parent
    identity = fresh["identity"]
    if state_file.is_file():
        state: dict[str, Any] = json.loads(state_file.read_text())
        then = state.get("identity") or {}
        if then.get("key") != identity["key"]:
            raise OutputError(
                f"'{work}' holds {what} made from {'; '.join(differences(then, identity))}: "
                "choose another output, or give what they were made from to continue them"
            )
        state["identity"] = identity
        return state
    if work.is_dir() and any(work.iterdir()):
        raise OutputError(f"output folder '{work}' is not empty: choose a new or empty folder")
    atomic.make_folder(make, "output")
    return fresh


def differences(then: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What differs between the identity an earlier run saved and this run's, in words
    (each: what it was, and what it is now)."""
    if "key" not in then:
        return ["an earlier version of painterly (its state names no resume key)"]
    said = []
    old, new = then.get("input") or {}, now["input"]
    # A folder's digest covers the frames chosen: other --frames explain another one.
    chosen = all(then.get(n) == now.get(n) for n in ("frames", "resample_fps"))
    if old.get("path") != new["path"] and old.get("sha256") != new["sha256"]:
        said.append(f"another input ('{old.get('path')}'; now '{new['path']}')")
    elif old.get("sha256") != new["sha256"] and chosen:
        said.append(f"an earlier version of '{new['path']}' (its content changed)")
    if [s.get("sha256") for s in then.get("styles", [])] != [s["sha256"] for s in now["styles"]]:
        paths = ", ".join(f"'{s.get('path')}'" for s in then.get("styles", []))
        said.append(f"other styles ({paths or 'unknown'})")
    flags = {"frames": "--frames", "resample_fps": "--fps", "chunking": "--chunk/--overlap"}
    said += [
        f"{flag} {_shown(then.get(name))} (now {_shown(now.get(name))})"
        for name, flag in flags.items()
        if then.get(name) != now.get(name)
    ]
    options = _changed(then.get("config") or {}, now["config"])
    options += _changed(then.get("video") or {}, now["video"])
    if options:
        more = f" and {len(options) - SHOWN} more" if len(options) > SHOWN else ""
        said.append("other options: " + ", ".join(options[:SHOWN]) + more)
    return said or ["other contents of the files the options name (--mask, --init)"]


def _changed(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [
        f"{name} {_shown(old.get(name))} (now {_shown(new.get(name))})"
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    ]


def _shown(value: Any) -> str:
    """A setting as typed: a span ``A:B`` (``all``), a number, ``none``."""
    if value == [None, None]:
        return "all"
    if isinstance(value, list) and len(value) == 2:
        return ":".join("" if v is None else str(v) for v in value)
    return "none" if value is None else json.dumps(value)
