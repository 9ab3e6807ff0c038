"""The data this process writes is readable by its own user only.

At start-up (`serve`, `worker` and every command that writes) the umask becomes 077, so
every file created afterwards (SQLite databases and their -wal/-shm files, the embedded
evidence store, keys, export files, the webhook queue) is 0600 and every directory 0700;
what an earlier version or another tool left with wider modes is narrowed: the data dir,
the export dir and the signing key's directory, and everything under them, become 0700
(directories) and 0600 (files). Symbolic links are neither followed nor changed.
"""

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from api.settings import Settings

UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def private_roots(settings: Settings) -> list[Path]:
    """The directories this process keeps data in (that exist or it will create)."""
    roots = [settings.data_dir]
    if settings.export_dir is not None:
        roots.append(settings.export_dir)
    if settings.signing_key_file is not None:
        roots.append(settings.signing_key_file.parent)
    return roots


def make_private(settings: Settings) -> None:
    """Set the umask and narrow the modes of the data this process keeps (see above)."""
    os.umask(UMASK)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    narrow_modes(private_roots(settings))


def narrow_modes(roots: Iterable[Path]) -> None:
    for root in roots:
        if not root.is_dir() or root.is_symlink():
            continue
        _narrow(root, DIR_MODE)
        for folder, dirs, files in os.walk(root):
            for name in dirs:
                _narrow(Path(folder, name), DIR_MODE)
            for name in files:
                _narrow(Path(folder, name), FILE_MODE)


def _narrow(path: Path, mode: int) -> None:
    """Remove group and other bits (a mode already narrower stays as it is)."""
    try:
        current = path.lstat()
    except FileNotFoundError:  # removed meanwhile (a SQLite -shm file, a finished export)
        return
    if stat.S_ISLNK(current.st_mode):
        return
    wanted = stat.S_IMODE(current.st_mode) & mode
    if wanted != stat.S_IMODE(current.st_mode):
        try:
            os.chmod(path, wanted)
        except (FileNotFoundError, PermissionError):
            return  # not ours (a mounted volume's root): the umask still covers new files
