"""RUN_AS: a One API data folder owned by root is adopted and written by the user one-api drops to."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.privileges import RunAs, adopt, data_paths, drop_privileges, parse_run_as
from settings import SettingsError, load_settings
from startup.database import prepare_database

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing owners and dropping to another user needs root")


def test_run_as_forms() -> None:
    assert parse_run_as("10001") == RunAs(10001, 10001)
    assert parse_run_as("10001:20") == RunAs(10001, 20)
    assert parse_run_as("root") == RunAs(0, 0)
    assert parse_run_as("root:10002") == RunAs(0, 10002)
    for bad in ("", ":5", "no-such-user-here", "10001:no-such-group-here"):
        with pytest.raises(SettingsError, match="RUN_AS"):
            parse_run_as(bad)


def test_the_folder_of_the_database_is_adopted_alone_and_never_the_root(tmp_path: Path) -> None:
    settings = load_settings({"SQLITE_PATH": str(tmp_path / "data" / "one-api.db"), "TIKTOKEN_CACHE_DIR": ""},
                             argv=["--log-dir", str(tmp_path / "logs")])
    alone, trees = data_paths(settings)
    assert alone[0] == tmp_path / "data"
    assert [p.name for p in alone[1:]] == ["one-api.db", "one-api.db-wal", "one-api.db-shm", "one-api.db-journal"]
    assert trees == [tmp_path / "logs"]
    at_root = load_settings({"SQLITE_PATH": "/one-api.db"}, argv=["--log-dir", "/"])
    alone, trees = data_paths(at_root)
    assert Path("/") not in alone and trees == []
    on_mysql = load_settings({"SQL_DSN": "u:p@tcp(db:3306)/oneapi", "LOG_SQL_DSN": "u:p@tcp(db:3306)/logs"},
                             argv=["--log-dir", str(tmp_path / "logs")])
    assert data_paths(on_mysql)[0] == []


@pytest.fixture
def data_folder() -> Iterator[Path]:
    """A folder another user can reach (pytest's own tmp folders are root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="one-api-run-as-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@as_root
def test_a_root_owned_data_folder_is_adopted_and_written_after_the_drop(data_folder: Path) -> None:
    data, logs = data_folder / "data", data_folder / "data" / "logs"
    data.mkdir()
    logs.mkdir()
    (logs / "oneapi-old.log").write_text("One API's own log\n")
    settings = load_settings({"SQLITE_PATH": str(data / "one-api.db"), "SESSION_SECRET": "s", "RUN_AS": "10001:10001"},
                             argv=["--log-dir", str(logs)])
    asyncio.run(prepare_database(settings))    # made by root, as One API's image leaves it
    assert (data / "one-api.db").stat().st_uid == 0

    pid = os.fork()
    if pid == 0:   # the child drops, then must write the database and a log file
        code = 1
        try:
            who = drop_privileges(settings)
            with sqlite3.connect(data / "one-api.db") as db:
                db.execute("INSERT INTO options (key, value) VALUES ('RunAsCheck', 'written')")
            with open(logs / "oneapi-old.log", "a") as f:
                f.write("ours now\n")
            code = 0 if who == RunAs(10001, 10001) and (os.getuid(), os.getgid()) == (10001, 10001) else 3
        except BaseException:
            code = 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with sqlite3.connect(data / "one-api.db") as db:
        assert db.execute("SELECT value FROM options WHERE key = 'RunAsCheck'").fetchone() == ("written",)
    for path in (data, data / "one-api.db", logs, logs / "oneapi-old.log"):
        assert (path.stat().st_uid, path.stat().st_gid) == (10001, 10001), path


@as_root
def test_adopt_changes_only_what_is_not_already_ours_and_never_follows_links(data_folder: Path) -> None:
    outside = data_folder / "outside.txt"
    outside.write_text("not ours")
    tree = data_folder / "logs"
    tree.mkdir()
    (tree / "a.log").write_text("a")
    (tree / "link").symlink_to(outside)
    who = RunAs(10001, 10001)
    assert adopt([], [tree], who) == 3     # the folder, the file, the link itself
    assert outside.stat().st_uid == 0      # the link's target stays root's
    assert adopt([], [tree], who) == 0
    assert drop_privileges(load_settings({"SQLITE_PATH": str(data_folder / "x.db")})) is None   # RUN_AS unset
