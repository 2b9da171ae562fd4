"""RUN_AS: started as root (as One API's image is, so a One API data folder owned by root opens), `one-api` makes its
data its own user's and drops to that user before it opens a database or a port (the log file, opened just before,
is adopted with its folder).

Adopted: the SQLite file with its journal files and the folder they live in (not recursively: that folder may be
the working directory of anything), and the log and tiktoken folders recursively (they hold only our files).
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from settings import Settings, SettingsError

log = logging.getLogger(__name__)

_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True)
class RunAs:
    uid: int
    gid: int


def parse_run_as(raw: str) -> RunAs:
    """"10001", "10001:10001", "oneapi" or "oneapi:oneapi"; a name must exist, a number need not."""
    user, _, group = raw.strip().partition(":")
    if not user:
        raise SettingsError(f"RUN_AS: expected uid[:gid] or user[:group], got {raw!r}")
    try:
        entry = None if user.isdigit() else pwd.getpwnam(user)
        uid = int(user) if entry is None else entry.pw_uid
        if group:
            gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        else:
            gid = entry.pw_gid if entry is not None else uid
    except KeyError:
        raise SettingsError(f"RUN_AS: no such user or group in {raw!r}") from None
    return RunAs(uid, gid)


def data_paths(settings: Settings) -> tuple[list[Path], list[Path]]:
    """(paths adopted alone, folders adopted with everything in them)."""
    alone: list[Path] = []
    trees: list[Path] = []
    if not settings.sql_dsn or not settings.log_sql_dsn:
        db = Path(settings.sqlite_path).absolute()
        if db.parent != Path(db.parent.anchor):   # never the file system's root
            alone.append(db.parent)
        alone.extend(db.with_name(db.name + suffix) for suffix in _SQLITE_COMPANIONS)
    for folder in (settings.log_dir, settings.tiktoken_cache_dir):
        if folder and Path(folder).absolute() != Path(Path(folder).absolute().anchor):
            trees.append(Path(folder).absolute())
    return alone, trees


def adopt(alone: list[Path], trees: list[Path], who: RunAs) -> int:
    """Give every existing path to `who` (symbolic links themselves, never their targets); how many changed."""
    changed = 0

    def own(path: Path) -> None:
        nonlocal changed
        st = path.lstat()
        if (st.st_uid, st.st_gid) != (who.uid, who.gid):
            os.lchown(path, who.uid, who.gid)
            changed += 1

    for path in alone:
        if path.exists() or path.is_symlink():
            own(path)
    for root in trees:
        if not root.exists():
            continue
        own(root)
        for folder, dirs, files in os.walk(root):
            for name in dirs + files:
                own(Path(folder, name))
    return changed


def drop_privileges(settings: Settings) -> RunAs | None:
    """Adopt the data paths and become RUN_AS; None when RUN_AS is unset or we are not root (nothing to do)."""
    if not settings.run_as or os.geteuid() != 0:
        return None
    who = parse_run_as(settings.run_as)
    if who.uid == 0:
        return None
    alone, trees = data_paths(settings)
    changed = adopt(alone, trees, who)
    os.setgroups([])
    os.setgid(who.gid)
    os.setuid(who.uid)
    if changed:   # logging is set up: its file was opened as root, then adopted with the log folder
        log.info("RUN_AS: %d data path(s) now belong to %d:%d", changed, who.uid, who.gid)
    return who


__all__ = ["RunAs", "adopt", "data_paths", "drop_privileges", "parse_run_as"]
