"""Primary keys handed out by the process for a batch's new rows, on SQLite.

The ORM inserts new rows whose integer key the database assigns one statement each on SQLite:
it needs each row's key back, and SQLite does not promise that a multi-row `RETURNING` comes back
in the rows' order. A batch of mail makes about seven such rows a message, and every statement
is a trip to the driver's thread during which the write lock is held and the event loop runs
other work. Inside a `BEGIN IMMEDIATE` transaction no other connection, in any process, can
insert until it ends, so the keys SQLite would choose (one past the largest, per table) can be
chosen here instead: the rows then go in as one `executemany` per table. Only for a session
that `allocating` wraps, only on SQLite; PostgreSQL's sequences keep their own counters.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import Any

from sqlalchemy import Column, Table, event, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_KEY = "gateway.id_allocator"


class IdAllocator:
    """The next key per table, read once (one query for the tables a flush first meets)."""

    def __init__(self) -> None:
        self._next: dict[Table, int] = {}
        self._given: dict[tuple[Table, int], Any] = {}  # the objects given a key, by it
        self.deferring = False  # foreign keys checked at commit

    def assign(self, session: Session, objects: Iterable[Any]) -> None:
        """Give each new object whose table counts up a key of its own, unless it has one."""
        wanted: list[tuple[Any, Table, Column[Any]]] = []
        for obj in objects:
            table = inspect(obj).mapper.local_table
            column = _counted(table)
            if column is not None and getattr(obj, column.key) is None:
                wanted.append((obj, table, column))
        self._prime(session, {table: column for _, table, column in wanted})
        for obj, table, column in wanted:
            key = self._next[table]
            setattr(obj, column.key, key)
            self._given[(table, key)] = obj
            self._next[table] = key + 1

    def given(self, table: Table, key: int) -> Any | None:
        return self._given.get((table, key))

    def _prime(self, session: Session, tables: dict[Table, Column[Any]]) -> None:
        unread = [(table, column) for table, column in tables.items() if table not in self._next]
        if not unread:
            return
        largest = select(
            *(select(func.max(column)).scalar_subquery() for _, column in unread)
        )  # on the connection: a query through the session would flush, from within a flush
        row = session.connection().execute(largest).one()
        for (table, _), value in zip(unread, row, strict=True):
            self._next[table] = (value or 0) + 1


def _counted(table: Table) -> Column[Any] | None:
    """The table's one integer key that the database counts up, if it has one."""
    column = table.autoincrement_column
    return column if column is not None and len(table.primary_key.columns) == 1 else None


def _refer_to_each_other(objects: Iterable[Any]) -> bool:
    """Whether a table among the new objects' has a foreign key to another one of them."""
    tables = {inspect(obj).mapper.local_table for obj in objects}
    return any(
        key.column.table in tables and key.column.table is not table
        for table in tables
        for key in table.foreign_keys
    )


def allocator(session: AsyncSession) -> IdAllocator | None:
    """The allocator of an `allocating` session, else None."""
    found = session.info.get(_KEY)
    return found if isinstance(found, IdAllocator) else None


async def assign(session: AsyncSession, obj: Any) -> bool:
    """Give `obj` its key now, if `session` allocates (True); the caller then adds it."""
    found = allocator(session)
    if found is None:
        return False
    await session.run_sync(found.assign, [obj])
    return True


def pending(session: AsyncSession, model: type[Any], key: int) -> Any | None:
    """The object of `model` that `session`'s allocator gave key `key`, flushed or not
    (`Session.get` finds only flushed ones); None when the session does not allocate."""
    found = allocator(session)
    return found.given(inspect(model).local_table, key) if found is not None else None


@contextlib.asynccontextmanager
async def allocating(session: AsyncSession) -> AsyncIterator[IdAllocator | None]:
    """Hand out the keys of every row `session` inserts while inside (see the module), on
    SQLite (its write transaction begins here, if it has not); elsewhere a no-op (None)."""
    if session.get_bind().dialect.name != "sqlite":
        yield None
        return
    await session.connection()  # BEGIN IMMEDIATE: from here no one else inserts
    found = IdAllocator()

    def _before_flush(sync_session: Session, _context: Any, _instances: Any) -> None:
        new = sync_session.new
        # the ORM orders rows by relationship, not by foreign key: a new row may go in before
        # the new row it refers to, so the checks wait for the commit (SQLite resets this then)
        if not found.deferring and _refer_to_each_other(new):
            sync_session.connection().exec_driver_sql("PRAGMA defer_foreign_keys = ON")
            found.deferring = True
        found.assign(sync_session, new)

    sync_session = session.sync_session
    event.listen(sync_session, "before_flush", _before_flush)
    session.info[_KEY] = found
    try:
        yield found
    finally:
        session.info.pop(_KEY, None)
        event.remove(sync_session, "before_flush", _before_flush)
