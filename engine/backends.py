"""The Ibis backends every engine job runs on: DuckDB in memory, or PySpark (local here)."""

from __future__ import annotations

import tempfile
from typing import Any, Literal

import ibis

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[Engine, ...] = ("duckdb", "spark")


def spark_session(warehouse: str | None = None) -> Any:
    """A local Spark session: no UI, a private warehouse directory, UTC, few partitions."""
    from pyspark.sql import SparkSession

    warehouse = warehouse or tempfile.mkdtemp(prefix="fupin-spark-")
    return (
        SparkSession.builder.master("local[2]")
        .appName("fupin-engine")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )


def connect(engine: Engine = "duckdb", spark: Any = None) -> Any:
    """An Ibis backend: DuckDB in memory, or PySpark on `spark` (a local session if None)."""
    if engine == "duckdb":
        return ibis.duckdb.connect()
    if engine == "spark":
        return ibis.pyspark.connect(spark if spark is not None else spark_session())
    raise ValueError(f"unknown engine {engine!r}: duckdb or spark")
