"""What lorebot keeps on disk is private to it: directories 0700, files 0600.

The index holds every indexed passage, the database every conversation, and the git
mirrors every file of every repository; nobody else on the machine needs to read them.
Directories and files are created owner-only, and ones left by an older lorebot lose
their group and other permissions when lorebot next opens them. SQLite creates a
database's `-wal` and `-shm` files with the database file's own permissions, so
creating that file first, owner-only, is enough for all three.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

logger = logging.getLogger(__name__)

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_directory(path: Path) -> Path:
    """`path` as an owner-only directory: created (with any missing parents) if need be."""
    _make_directories(path)
    restrict(path)
    return path


def private_file(path: Path) -> Path:
    """`path` as an owner-only file: created empty if it does not exist. Missing parent
    directories are created owner-only; existing ones are left as they are."""
    _make_directories(path.parent)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE))  # the mode applies only if it creates
    restrict(path)
    return path


def private_sqlite_file(path: Path) -> Path:
    """An SQLite database file, and the `-wal` and `-shm` files beside it, owner-only."""
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        restrict(path.with_name(path.name + suffix))
    return path


def restrict(path: Path) -> None:
    """Take the group and other permissions off an existing `path` (a no-op when it has none)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, mode & ~0o077)
    except FileNotFoundError:
        return
    except OSError as exc:  # not ours to change (another owner, a read-only mount)
        logger.warning("could not make %s private to lorebot: %s", path, exc)


def _make_directories(path: Path) -> None:
    missing = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIRECTORY_MODE)
        except FileExistsError:
            pass
