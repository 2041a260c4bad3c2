"""Explicit downloads of weights, only when the user asks, with a hash check."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ..errors import WeightsError
from .weights import SOURCES, cache_dir

ProgressFn = Callable[[int, int], None]  # (bytes so far, total bytes or 0)


def download(name: str, folder: Path | None = None, progress: ProgressFn | None = None) -> Path:
    """Fetch the weights of source ``name`` into ``folder`` (default: the cache).

    The file is written beside its final name and renamed only once its SHA-256
    matches the spec, so a failed download leaves nothing behind.
    """
    spec = SOURCES.get(name)
    if spec is None or spec.url is None or spec.filename is None:
        downloadable = [n for n, s in SOURCES.items() if s.url]
        raise WeightsError(f"'{name}' cannot be downloaded: choose one of {downloadable}")
    folder = folder or cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / spec.filename
    tmp = dest.with_name(dest.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(spec.url, timeout=60) as response, tmp.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while block := response.read(1 << 20):
                out.write(block)
                digest.update(block)
                done += len(block)
                if progress:
                    progress(done, total)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WeightsError(f"download of {spec.url} failed ({exc}): check the network") from None
    sha = digest.hexdigest()
    if spec.sha256_prefix and not sha.startswith(spec.sha256_prefix):
        tmp.unlink(missing_ok=True)
        raise WeightsError(
            f"downloaded file has SHA-256 {sha[:16]}…, expected {spec.sha256_prefix}…: "
            "the download is corrupt, run the command again"
        )
    os.replace(tmp, dest)
    return dest
