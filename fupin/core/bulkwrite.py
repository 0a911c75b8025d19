"""Many rows into one table with one statement per batch (`executemany`).

Bulk work (an import of 100,000 households, the audit entries that come with it) must not
be row-by-row ORM saves; Django's `bulk_create` is bulk, but spends about 3 µs of Python per
value composing SQL, and on SQLite splits a batch every 999 parameters: 34 s for 400,000
members alone, over half the budget of a 100,000-household import (issue 3: ≤ 60 s). Here
the statement is built once per table and the values are bound by the database driver;
each value still goes through the backend's own adapter (`connection.ops.adapt_*`, as
Django's fields do) where its type needs one.

Primary keys are reserved up front, so rows can point at rows written in the same import:
SQLite allocates them above the table's highest id (the writing transaction holds the
database's write lock, so nobody else allocates meanwhile); PostgreSQL draws them from the
table's sequence. Only SQLite and PostgreSQL, the two supported databases, are handled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from django.db import connection, models
from django.db.backends.base.operations import BaseDatabaseOperations

from fupin.core.fields import CodeListField

BATCH = 1000


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


class TableWriter:
    """INSERT and UPDATE rows of one model's table, a batch per statement.

    Rows are dicts {attname: value} holding every concrete field (insert) or sequences of
    the named columns' values followed by the primary key (update). A JSONField takes its
    value as JSON text already serialised (the audit trail hashes that same text).
    """

    def __init__(self, model: type[models.Model]) -> None:
        if connection.vendor not in ("sqlite", "postgresql"):  # pragma: no cover
            raise NotImplementedError(f"bulk writes are not supported on {connection.vendor}")
        self.model = model
        meta = model._meta
        self.qn = connection.ops.quote_name
        self.fields = list(meta.concrete_fields)
        self.by_attname = {f.attname: f for f in self.fields}
        self.columns = [f.attname for f in self.fields]
        self.table = self.qn(meta.db_table)
        self.pk_column: str = meta.pk.column  # type: ignore[union-attr,assignment]
        placeholders = ", ".join(self._placeholder(f) for f in self.fields)
        names = ", ".join(self.qn(f.column or "") for f in self.fields)
        self.insert_sql = f"INSERT INTO {self.table} ({names}) VALUES ({placeholders})"

    @staticmethod
    def _placeholder(f: models.Field) -> str:
        if isinstance(f, models.JSONField) and connection.vendor == "postgresql":
            return "%s::jsonb"  # the value is JSON text
        return "%s"

    @staticmethod
    def _adapter(f: models.Field) -> Callable[[Any], Any] | None:
        ops = connection.ops
        if isinstance(f, CodeListField):
            return f.get_prep_value
        if isinstance(f, models.DateTimeField):
            return ops.adapt_datetimefield_value
        if isinstance(f, models.DateField):
            return ops.adapt_datefield_value
        if isinstance(f, models.DecimalField):
            if (
                type(ops).adapt_decimalfield_value
                is BaseDatabaseOperations.adapt_decimalfield_value
            ):
                return None  # the driver takes a Decimal as it is
            digits, places = f.max_digits, f.decimal_places
            return lambda v: ops.adapt_decimalfield_value(v, digits, places)
        return None

    def _adapters(self, columns: Sequence[str]) -> list[tuple[int, Callable[[Any], Any]]]:
        found = []
        for i, name in enumerate(columns):
            f = self.by_attname.get(name)
            if f is not None and (adapt := self._adapter(f)) is not None:
                found.append((i, adapt))
        return found

    def reserve_ids(self, n: int) -> list[int]:
        """`n` primary keys nobody else will use."""
        if n <= 0:
            return []
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [self.model._meta.db_table, self.pk_column, n],
                )
                return [row[0] for row in cursor.fetchall()]
            cursor.execute(f"SELECT MAX({self.qn(self.pk_column)}) FROM {self.table}")
            top = cursor.fetchone()[0] or 0
            # AUTOINCREMENT remembers the highest id ever used, deleted rows included.
            cursor.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = %s", [self.model._meta.db_table]
            )
            seq = cursor.fetchone()
            start = max(top, seq[0] if seq else 0) + 1
        return list(range(start, start + n))

    def insert(self, rows: Iterable[dict[str, Any]], batch: int = BATCH) -> int:
        """Insert rows {attname: value} (every concrete field); return how many."""
        columns = self.columns
        adapters = self._adapters(columns)
        count = 0
        with connection.cursor() as cursor:
            for chunk in batched(rows, batch):
                params = []
                for row in chunk:
                    values = [row[c] for c in columns]
                    for i, adapt in adapters:
                        if values[i] is not None:
                            values[i] = adapt(values[i])
                    params.append(values)
                cursor.executemany(self.insert_sql, params)
                count += len(params)
        return count

    def update(
        self,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        also: str = "",
        batch: int = BATCH,
    ) -> int:
        """UPDATE … SET columns WHERE pk: each row is the columns' values, then the pk.

        `also` is more SQL for the SET clause (e.g. `"version" = "version" + 1`)."""
        sets = [f"{self.qn(self.by_attname[c].column or '')} = %s" for c in columns]
        if also:
            sets.append(also)
        sql = f"UPDATE {self.table} SET {', '.join(sets)} WHERE {self.qn(self.pk_column)} = %s"
        adapters = self._adapters(columns)
        count = 0
        with connection.cursor() as cursor:
            for chunk in batched(rows, batch):
                params = []
                for row in chunk:
                    values = list(row)
                    for i, adapt in adapters:
                        if values[i] is not None:
                            values[i] = adapt(values[i])
                    params.append(values)
                cursor.executemany(sql, params)
                count += len(params)
        return count
