"""Why a path given to read is not a readable file, in words.

A missing file, a folder, a loop of symbolic links and a file without read
permission each get their own message instead of one "does not exist".
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ..errors import ImageError, PainterlyError


def check_readable(
    path: str | os.PathLike[str], what: str, error: type[PainterlyError] = ImageError
) -> None:
    """Raise ``error`` naming why ``path`` is not a file to read: missing, a folder, a
    loop of symbolic links, or not permitted."""
    try:
        mode = Path(path).stat().st_mode
    except OSError as exc:
        raise error(f"{what} '{path}' {_why_not(exc)}") from None
    if stat.S_ISDIR(mode):
        raise error(f"{what} '{path}' is a folder, not a file: name a file in it")
    if not stat.S_ISREG(mode):
        raise error(f"{what} '{path}' is not a regular file: give a file")


def _why_not(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "is a loop of symbolic links: point the link at a real file"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "cannot be reached: permission denied"
    if exc.errno == errno.ENOTDIR:
        return "does not exist (a part of the path is a file, not a folder): check the path"
    if exc.errno == errno.ENAMETOOLONG:
        return "has too long a name: check the path"
    if exc.errno == errno.ENOENT:
        return "does not exist: check the path"
    return f"cannot be read ({exc.strerror}): check the path"
