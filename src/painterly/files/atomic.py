"""Output files written so that nothing is ever half-written or lost.

Every file is written to a hidden temporary part beside it (``.NAME.XXXX.part``),
flushed to disk, then renamed into place while a lock on the output's name keeps
other painterly processes from writing the same name at the same time. A part left
by a process killed at the wrong moment is removed by the next write of that name.
Before a long run, :func:`check_writable` (a file) and :func:`check_folder` prove that
the output can be created.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import OutputError, SavedElsewhere

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locking between processes
    fcntl = None  # type: ignore[assignment]


def check_writable(path: Path, what: str = "output") -> None:
    """Raise :class:`OutputError` naming why the file ``path`` cannot be created in its
    folder, which must exist (see :func:`check_folder`)."""
    if path.is_dir():
        raise OutputError(f"{what} '{path}' is a folder: name a file, e.g. '{path / 'out.png'}'")
    check_folder(path.parent, what, create=False)


def check_folder(
    folder: str | os.PathLike[str], what: str = "output", *, create: bool = True
) -> Path:
    """Check, creating nothing, that files can be written in ``folder``, by creating and
    removing a temporary file there or, for a folder not made yet (with ``create``), in
    the nearest folder above it; else raise :class:`OutputError` in one line naming the
    folder and the fix, e.g. "batch output folder 'out' cannot be written: no permission
    to write in its folder; choose another folder"."""
    folder = Path(folder)
    if not create and not folder.is_dir():
        raise OutputError(f"{what} folder '{folder}' does not exist: create it first")
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{what} '{folder}' is a file: give a folder")
    existing = next(p for p in (folder, *folder.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise OutputError(
            f"{what} folder '{folder}' cannot be created: '{existing}' is a file; "
            "choose another folder"
        )
    failure = probe(existing)
    if failure is not None:
        raise OutputError(f"{what} folder '{folder}' cannot be written: {reason(failure)}")
    return folder


def make_folder(folder: str | os.PathLike[str], what: str = "output") -> Path:
    """:func:`check_folder`, then create the folder (and those above it)."""
    folder = check_folder(folder, what)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{what} folder '{folder}' cannot be created: {reason(exc)}") from None
    return folder


def probe(folder: Path, name: str = "painterly") -> OSError | None:
    """Create and remove a temporary file in ``folder``; the error if that fails."""
    try:
        fd, tried = tempfile.mkstemp(prefix=f".{name}.", suffix=".check", dir=folder)
    except OSError as exc:
        return exc
    os.close(fd)
    os.unlink(tried)
    return None


def reason(exc: OSError) -> str:
    """Why a write failed, in words, with the fix."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "no permission to write in its folder; choose another folder"
    if exc.errno == errno.EROFS:
        return "the folder is on a read-only file system; choose another folder"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full; free some space or choose another disk"
    if exc.errno == errno.ENOENT:
        return "new files cannot be created in that folder; choose another folder"
    if exc.errno == errno.EISDIR:
        return "a folder has that name; name a file"
    return f"{exc.strerror or exc}; choose another path"


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename) to disk, where the system allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_part(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(part)`` on a new hidden part beside ``path``, flushed to disk; the
    part is removed if anything fails."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    part = Path(name)
    try:
        write(part)
        os.chmod(part, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        with open(part, "rb+") as handle:
            os.fsync(handle.fileno())
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return part


def remove_stale_parts(path: Path) -> None:
    """Remove the parts of ``path`` left by a killed process (call under its lock)."""
    for part in path.parent.glob(f".{_glob_escape(path.name)}.*.part"):
        part.unlink(missing_ok=True)


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the output name ``path`` (a hidden ``.NAME.lock`` file
    beside it, removed afterwards); stale parts of that name are removed on entry."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    lock = path.parent / f".{path.name}.lock"
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder before us removed that lock file: take the new one
    try:
        remove_stale_parts(path)
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(part)`` then rename the part onto ``path``, never leaving a partial
    file; the name is locked while writing."""
    path = Path(path)
    with locked(path):
        part = write_part(path, write)
        try:
            os.replace(part, path)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        fsync_folder(path.parent)


def fallback_path(path: Path) -> Path:
    """A new name for ``path`` in the temporary folder, e.g. ``/tmp/painterly-out-3f9c.png``."""
    fd, name = tempfile.mkstemp(prefix=f"painterly-{path.stem}-", suffix=path.suffix)
    os.close(fd)
    return Path(name)


def write_or_fallback(path: Path, write: Callable[[Path], object]) -> Path:
    """:func:`atomic_write`; if that fails, write to :func:`fallback_path` instead and
    raise :class:`SavedElsewhere` naming the cause and the place."""
    try:
        atomic_write(path, write)
        return path
    except OSError as exc:
        spare = fallback_path(path)
        atomic_write(spare, write)
        raise SavedElsewhere(
            f"could not write '{path}' ({reason(exc)}): saved it to '{spare}' instead", str(spare)
        ) from None
