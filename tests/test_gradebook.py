"""Is an SQLite gradebook in WAL mode during a batch, and given back in the mode it had?"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from autograder.gradebook import sqlite_file, write_ahead_log


def mode(path) -> str:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute("PRAGMA journal_mode").fetchone()[0]


def make(path, journal_mode: str = "delete"):
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(f"PRAGMA journal_mode={journal_mode}")
        connection.execute("CREATE TABLE grade (score REAL)")
    return path


@pytest.mark.parametrize("before", ["delete", "wal"])  # the modes a file keeps
def test_is_the_gradebook_in_wal_mode_within_the_block_and_as_it_was_after(tmp_path, before):
    db = make(tmp_path / "gradebook.db", before)
    with write_ahead_log(f"sqlite:///{db}"):
        assert mode(db) == "wal"  # every other connection (a worker's) writes through the log
        with closing(sqlite3.connect(db)) as connection, connection:
            connection.execute("INSERT INTO grade VALUES (1.5)")
    assert mode(db) == before
    assert not (tmp_path / "gradebook.db-wal").exists()  # checkpointed into the database
    with closing(sqlite3.connect(db)) as connection, connection:
        assert connection.execute("SELECT score FROM grade").fetchall() == [(1.5,)]


def test_is_the_mode_given_back_when_the_block_fails(tmp_path):
    db = make(tmp_path / "gradebook.db")
    with pytest.raises(RuntimeError), write_ahead_log(f"sqlite:///{db}"):
        raise RuntimeError("a batch that failed")
    assert mode(db) == "delete"


def test_are_other_databases_left_alone(tmp_path):
    """No file is created where there is none, a URL of another database is not touched."""
    missing = tmp_path / "folder with spaces" / "gradebook.db"
    for url in (f"sqlite:///{missing}", "sqlite:///:memory:", "postgresql://u@127.0.0.1/db"):
        with write_ahead_log(url):
            pass
    assert not missing.parent.exists()
    spaced = make(tmp_path / "a #1.db")  # characters a URI would misread
    with write_ahead_log(f"sqlite:///{spaced}"):
        assert mode(spaced) == "wal"
    assert mode(spaced) == "delete"


def test_is_the_url_read_as_nbgraders_engine_reads_it(tmp_path):
    """SQLAlchemy's URL: a driver may be named, %-escapes are decoded, a "?" starts the query
    (so a "?" in a file name does not belong to the path nbgrader opens either)."""
    plain, spaced = make(tmp_path / "a"), make(tmp_path / "a b.db")
    with write_ahead_log(f"sqlite+pysqlite:///{tmp_path}/a%20b.db"):
        assert mode(spaced) == "wal"
    with write_ahead_log(f"sqlite:///{tmp_path}/a?.db"):
        assert mode(plain) == "wal"
    assert sqlite_file("sqlite://") == sqlite_file("not a url") == ""
    assert sqlite_file("postgresql://u@127.0.0.1/db") == ""
