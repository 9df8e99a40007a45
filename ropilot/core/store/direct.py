"""Core statements compiled once and run on the driver's own connection.

For hot paths only (routing runs ~8 small statements per decision): there SQLAlchemy's work
per execution (cache lookup, parameter and result set-up: ~20 µs on the benchmark machine)
costs several times what SQLite spends on an indexed update (~3 µs). A :class:`Direct`
statement is compiled for the connection's dialect on first use; values still go through the
column types' bind and result processors, so what is stored and read back is exactly what
``Connection.execute`` would store and read.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ClauseElement

_Binder = tuple[str, Any, Callable[[Any], Any] | None]  # name, default or _REQUIRED, processor
_NO_DEFAULT = object()
_REQUIRED = object()
_T = TypeVar("_T")


class _Compiled(NamedTuple):
    sql: str
    binders: tuple[_Binder, ...]
    positional: bool
    columns: tuple[str, ...]
    readers: tuple[Callable[[Any], Any] | None, ...]
    row: Any  # a named-tuple class over ``columns`` (rows read by attribute, like SQLAlchemy's)
    reads: bool  # any result processor at all


class Direct:
    """One statement, compiled per dialect on first use.

    ``run`` executes it inside the caller's transaction (the same DBAPI connection that
    ``conn`` wraps) and returns the rows read, each a named tuple with the result processors
    applied; :meth:`first` returns the first row or ``None``. Bind parameters missing from
    the values take the statement's literal value (``assigned_total + 1``) or ``None``.
    """

    def __init__(self, statement: ClauseElement, keys: Sequence[str] | None = None) -> None:
        """``keys``: for an INSERT without ``values()``, the columns the rows give (the rest
        take their defaults, as with ``execute``); without it every column needs a value.
        """
        self.statement = statement
        self.keys = None if keys is None else list(keys)
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, dialect: Dialect) -> _Compiled:
        key = f"{dialect.name}+{dialect.driver}"
        got = self._by_dialect.get(key)
        if got is not None:
            return got
        compiled: Any = self.statement.compile(dialect=dialect, column_keys=self.keys)
        positional = bool(compiled.positional)
        names: Sequence[str] = compiled.positiontup if positional else list(compiled.binds)
        binders: list[_Binder] = []
        for name in names:
            bind = compiled.binds[name]
            if bind.expanding:
                raise ValueError(f"Direct statements take no IN lists (:{name}); use execute")
            if bind.value is not None:
                default = bind.value
            else:
                default = _REQUIRED if bind.required else _NO_DEFAULT
            binders.append((name, default, bind.type.dialect_impl(dialect).bind_processor(dialect)))
        columns: tuple[str, ...] = ()
        readers: tuple[Callable[[Any], Any] | None, ...] = ()
        selected = getattr(self.statement, "selected_columns", None)
        returning = getattr(self.statement, "_returning", ())
        cols = list(selected) if selected is not None else list(returning)
        if cols:
            columns = tuple(c.key or c.name for c in cols)
            try:
                readers = tuple(
                    c.type.dialect_impl(dialect).result_processor(dialect, None) for c in cols
                )
            except TypeError as exc:  # a reader that needs the driver's column type
                raise ValueError(f"Direct statements cannot read these columns: {exc}") from exc
        row = namedtuple("Row", columns, rename=True) if columns else tuple
        got = _Compiled(
            compiled.string, tuple(binders), positional, columns, readers, row, any(readers)
        )
        self._by_dialect[key] = got
        return got

    def run(self, conn: Connection, values: Mapping[str, Any]) -> list[Any]:
        """Execute with ``values``; the rows it returns (empty for a plain write)."""
        c = self._compiled(conn.dialect)
        params: list[Any] | dict[str, Any]
        if c.positional:
            params = [_bound(values, b) for b in c.binders]
        else:
            params = {b[0]: _bound(values, b) for b in c.binders}
        raw = _begin(conn)

        def go() -> list[Any]:
            # The compiled statement says whether rows come back: reading cursor.description
            # instead builds a column object per column on psycopg (~10 µs per statement).
            cursor = raw.execute(c.sql, params)
            try:
                return cursor.fetchall() if c.columns else []
            finally:
                cursor.close()

        rows = _driver_call(conn, raw, c.sql, go)
        if not rows:
            return rows
        readers, make = c.readers, c.row._make
        if not c.reads:
            return [make(r) for r in rows]
        return [
            make(v if f is None else f(v) for v, f in zip(r, readers, strict=True)) for r in rows
        ]

    def run_many(
        self,
        conn: Connection,
        rows: Iterable[Mapping[str, Any]],
        *,
        constants: Mapping[str, Any] | None = None,
        raw: Collection[str] = (),
    ) -> None:
        """Execute once per row (the driver's ``executemany``): a bulk write.

        ``constants`` are values shared by every row, processed once; the columns named in
        ``raw`` are passed to the driver as given (already in the stored form, e.g. JSON text
        for a JSON column: the statement carries the cast the dialect needs).
        """
        c = self._compiled(conn.dialect)
        fixed = dict(constants or {})
        done = {b[0]: _bound(fixed, b) for b in c.binders if b[0] in fixed}
        plan = [(b[0], done.get(b[0], _NO_DEFAULT), None if b[0] in raw else b) for b in c.binders]
        params: list[Any]
        if c.positional:
            params = [
                [
                    fixed_value
                    if fixed_value is not _NO_DEFAULT
                    else (row.get(name) if binder is None else _bound(row, binder))
                    for name, fixed_value, binder in plan
                ]
                for row in rows
            ]
        else:
            params = [
                {
                    name: fixed_value
                    if fixed_value is not _NO_DEFAULT
                    else (row.get(name) if binder is None else _bound(row, binder))
                    for name, fixed_value, binder in plan
                }
                for row in rows
            ]
        if not params:
            return
        driver = _begin(conn)

        def go() -> None:
            cursor = driver.cursor()
            try:
                cursor.executemany(c.sql, params)
            finally:
                cursor.close()

        _driver_call(conn, driver, c.sql, go)

    def first(self, conn: Connection, values: Mapping[str, Any]) -> Any | None:
        """The first row returned, or ``None``."""
        rows = self.run(conn, values)
        return rows[0] if rows else None

    def columns(self, conn: Connection) -> tuple[str, ...]:
        """Names of the columns a row holds, in order."""
        return self._compiled(conn.dialect).columns


def _bound(values: Mapping[str, Any], binder: _Binder) -> Any:
    name, default, process = binder
    value = values.get(name, _NO_DEFAULT)
    if value is _NO_DEFAULT:
        if default is _REQUIRED:
            raise ValueError(f"no value for :{name} (give None for NULL)")
        value = None if default is _NO_DEFAULT else default
    return value if process is None else process(value)


def _begin(conn: Connection) -> Any:
    """The driver connection, inside the SQLAlchemy transaction ``execute`` would begin."""
    autocommit = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    if not autocommit and not conn.in_transaction():
        conn.begin()  # so that conn.commit() commits this
    return conn.connection.driver_connection


def _driver_call(conn: Connection, raw: Any, sql: str, call: Callable[[], _T]) -> _T:
    """Run a driver call; its errors come out as SQLAlchemy's, a lost connection invalidated
    (as ``Connection.execute`` does), so a kept connection is not handed out again.
    """
    dialect = conn.dialect
    base = dialect.loaded_dbapi.Error
    try:
        return call()
    except base as exc:
        lost = bool(dialect.is_disconnect(exc, raw, None))
        if lost and not conn.invalidated:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            sql, None, exc, base, connection_invalidated=lost, dialect=dialect
        ) from exc
