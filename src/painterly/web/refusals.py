"""What the studio answers when it refuses, in words a page can show: the refusals
with their HTTP status, and messages without any path of the server."""

from __future__ import annotations

import errno
import re
from typing import Any

# An absolute path inside a message or record (a POSIX one, or C:\… on Windows).
PATH = re.compile(r"(?:[A-Za-z]:\\|/)[^\s'\"=:,;()\[\]{}]*[/\\]([^\s'\"/\\,;()\[\]{}]+)")
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
NOT_AN_IMAGE = (
    "that file is not an image painterly can read, or it is cut short: "
    "upload a whole PNG, JPEG or WebP"
)


class UploadRejected(Exception):
    """An upload that is too large or not an image; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Unwritable(Exception):
    """What had to be written in the results folder could not be; ``status`` is the HTTP
    answer: 507 for a full disk, 503 for a folder that cannot be written."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def scrub(text: str) -> str:
    """``text`` with every absolute path replaced by its last part (a file's name).

    >>> scrub("cannot read '/srv/results/uploads/u-1.png': truncated")
    "cannot read 'u-1.png': truncated"
    """
    return PATH.sub(lambda m: m.group(1), text)


def scrub_all(data: Any) -> Any:
    """A JSON value with :func:`scrub` applied to every string in it."""
    if isinstance(data, str):
        return scrub(data)
    if isinstance(data, list):
        return [scrub_all(v) for v in data]
    if isinstance(data, dict):
        return {k: scrub_all(v) for k, v in data.items()}
    return data


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def unwritable(exc: OSError, lost: str) -> Unwritable:
    """The refusal for a failed write, saying what was ``lost`` ("the upload was not
    kept"); words for a page, which cannot choose another folder."""
    if is_disk_full(exc):
        return Unwritable(507, f"the server's disk is full: {lost}")
    if exc.errno == errno.EROFS:
        why = "it is on a read-only file system"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        why = "the server has no permission to write there"
    else:
        why = scrub(exc.strerror or str(exc))
    return Unwritable(
        503,
        f"the studio's results folder cannot be written ({why}): {lost}; "
        "whoever runs the studio must give it a folder it can write",
    )
