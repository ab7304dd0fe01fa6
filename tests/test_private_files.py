"""What lorebot keeps on disk is owner-only: directories 0700, files 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bot.db.engine import create_engine, upgrade
from knowledge.index.sqlite import SqliteIndex
from knowledge.private_files import private_directory, private_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_directories_and_files_are_owner_only_even_under_a_loose_umask(tmp_path: Path) -> None:
    old = os.umask(0o002)
    try:
        directory = private_directory(tmp_path / "data" / "index")
        file = private_file(tmp_path / "elsewhere" / "lorebot.db")
    finally:
        os.umask(old)
    assert mode(directory) == mode(directory.parent) == 0o700
    assert mode(file) == 0o600 and mode(file.parent) == 0o700


def test_what_an_older_lorebot_left_readable_loses_group_and_other_permissions(tmp_path: Path) -> None:
    directory, file = tmp_path / "data", tmp_path / "data" / "index.sqlite3"
    directory.mkdir(mode=0o755)
    file.write_bytes(b"")
    os.chmod(directory, 0o755)
    os.chmod(file, 0o644)
    private_file(file)
    private_directory(directory)
    assert (mode(directory), mode(file)) == (0o700, 0o600)
    assert file.read_bytes() == b""  # opened to create, never truncated


async def test_the_index_file_and_its_wal_and_shm_are_owner_only(tmp_path: Path) -> None:
    index = SqliteIndex(tmp_path / "data" / "index")
    try:
        await index.bind_model("model", 3)
        files = sorted(p.name for p in (tmp_path / "data" / "index").iterdir())
        assert files == ["index.sqlite3", "index.sqlite3-shm", "index.sqlite3-wal"]
        assert {mode(tmp_path / "data" / "index" / name) for name in files} == {0o600}
        assert mode(tmp_path / "data" / "index") == mode(tmp_path / "data") == 0o700
    finally:
        await index.close()


async def test_the_sqlite_database_is_owner_only(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'lorebot.db'}"
    await upgrade(url)
    engine = create_engine(url)
    await engine.dispose()
    assert mode(tmp_path / "data" / "lorebot.db") == 0o600
    assert mode(tmp_path / "data") == 0o700
    assert {mode(p) for p in (tmp_path / "data").iterdir()} == {0o600}
