"""The SQLite gradebook during a batch: write-ahead logging while the workers write to it.

nbgrader commits to the gradebook ~25 times per submission (the submission, every grade and
comment, the late penalty). In SQLite's default rollback-journal mode every commit creates,
syncs and deletes a journal besides syncing the database: 53 ``fdatasync`` calls per ch06
submission, ~0.55 ms per commit on these machines. In WAL mode a commit appends to one log,
synced once (0.18 ms), and the workers' readers and writers no longer lock each other out.
The synchronous setting stays FULL: a commit is on disk before the grader writes the
submission's "graded" marker, as before.

The journal mode is a property of the database file, so it is set once from the grader's
process, which keeps that connection open for the batch (the log is not checkpointed away
each time a worker's last connection closes), and the file is given back in the mode it had.
Only for a local batch: WAL needs every process on one machine (shared memory), which
workers behind ``--scheduler`` need not be.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from urllib.parse import quote

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


def sqlite_file(db_url: str) -> str:
    """The file of an SQLite database URL as nbgrader's engine (SQLAlchemy) reads the URL; ""
    for another database (PostgreSQL), one in memory, or no URL at all."""
    try:
        url = make_url(db_url)
    except ArgumentError:
        return ""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return ""
    return url.database


@contextlib.contextmanager
def write_ahead_log(db_url: str) -> Iterator[None]:
    """Within the block, the SQLite database at ``db_url`` is in WAL mode; a database that is
    not SQLite (PostgreSQL) or not a file is left alone."""
    path = sqlite_file(db_url)
    if not path:
        yield
        return
    try:  # mode=rw: never creates a database that is not there
        connection = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=30)
        before = connection.execute("PRAGMA journal_mode").fetchone()[0]
    except sqlite3.Error:
        yield
        return
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        yield
    finally:
        with contextlib.suppress(sqlite3.Error):  # still locked by a worker: WAL is a valid mode
            connection.execute(f"PRAGMA journal_mode={before}")
        connection.close()
