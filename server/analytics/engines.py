"""The engines that compute head office's figures over the archive: DuckDB on one machine, Spark on a cluster.

An engine shows the archive's tables as views (`tickets`, `lines`, `ledger`, each with its `month`
partition column), takes the small tables the figures need from the server database (`register`: the
card -> customer map, the margin rates, a campaign's members) and answers a query. The figures are
written once (server.analytics.figures) in the SQL both engines read; the few spellings that differ
(days between two dates, integer division, a sorted list) come from the engine's own methods, so each
definition is rendered for the engine that runs it.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from . import rollups
from .archive import MANIFEST, TABLES, ArchiveError, schemas

ENGINES = ("duckdb", "spark")
# Spark in one process (local mode): threads, driver memory. On a cluster spark-submit sets these (docs/scaling.md).
SPARK_MASTER = os.environ.get("LOYALTY_SPARK_MASTER", "local[2]")
SPARK_MEMORY = os.environ.get("LOYALTY_SPARK_MEMORY", "1g")


class EngineError(ArchiveError):
    """An engine could not be started or could not answer."""


class Engine:
    """What the figures need of an engine; subclasses say how."""

    name = ""

    def register(self, name: str, columns: list[tuple[str, str]], rows: list, by_column: bool = False) -> None:
        """A small table from the server database: columns as (name, "string" | "bigint"), rows as tuples (or,
        `by_column`, a list of values per column)."""
        raise NotImplementedError

    def rows(self, sql: str) -> list[tuple]:
        raise NotImplementedError

    def materialize(self, name: str, sql: str) -> None:
        """Compute a query's rows once and keep them as table `name` for the next queries."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # the spellings that differ between the two dialects
    @staticmethod
    def date(day: date) -> str:
        return f"DATE '{day.isoformat()}'"

    @staticmethod
    def text(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def days_between(self, earlier: str, later: str) -> str:
        raise NotImplementedError

    def idiv(self, a: str, b: str) -> str:
        """Integer division truncated toward zero (as both engines' own operators)."""
        raise NotImplementedError

    def sorted_list(self, column: str) -> str:
        raise NotImplementedError


def _arrow_table(columns: list[tuple[str, str]], rows: list, by_column: bool = False):
    import pyarrow as pa

    types = {"string": pa.string(), "bigint": pa.int64()}
    # a list per column (zip(*rows) spreads a million rows as arguments: 3 s for the owners of 1 M cards)
    data = rows if by_column else [[row[i] for row in rows] for i in range(len(columns))]
    return pa.table({c: pa.array(values, types[t]) for (c, t), values in zip(columns, data)})


def _check_archive(archive: str | Path) -> Path:
    archive = Path(archive).resolve()
    if not (archive / MANIFEST).exists():
        raise ArchiveError(f"{archive} is not an archive (no {MANIFEST}): run `loyalty office export` first")
    return archive


class DuckDb(Engine):
    """DuckDB in this process, over the archive's files (server.analytics.archive_db.open_archive: shut in it)."""

    name = "duckdb"

    def __init__(self, archive: str | Path, use_rollups: bool = True):
        import shutil
        import tempfile

        from .archive_db import FIGURES_SETTINGS, open_archive

        # what DuckDB spills past its memory holds card numbers: a 0700 folder of its own, removed on close
        # (DuckDB's default is `.tmp` in whatever folder the process runs in, files 0644)
        self.spill = tempfile.mkdtemp(prefix="loyalty-duckdb-")
        try:
            self.db = open_archive(archive, use_rollups, FIGURES_SETTINGS | {"temp_directory": self.spill})
        except BaseException:
            shutil.rmtree(self.spill, ignore_errors=True)
            raise

    def register(self, name, columns, rows, by_column=False):
        self.db.register(name, _arrow_table(columns, rows, by_column))

    def rows(self, sql):
        return self.db.execute(sql).fetchall()

    def materialize(self, name, sql):
        self.db.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def close(self):
        import shutil

        self.db.close()
        shutil.rmtree(self.spill, ignore_errors=True)

    @staticmethod
    def text(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    def days_between(self, earlier, later):
        return f"datediff('day', {earlier}, {later})"

    def idiv(self, a, b):
        return f"(({a}) // ({b}))"

    def sorted_list(self, column):
        return f"list({column} ORDER BY {column})"


_spark = None
LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")


def spark_session(settings: dict[str, str] | None = None):
    """The process's Spark session (local mode unless LOYALTY_SPARK_MASTER says otherwise), made once;
    `settings`: more Spark settings for it (the tests' small-data ones)."""
    global _spark
    if _spark is not None:
        return _spark
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError(
            "Spark is not installed: pip install 'loyalty[spark]' (and Java 17: "
            "apt-get install openjdk-17-jre-headless)"
        ) from None
    if (
        not os.environ.get("PYSPARK_GATEWAY_PORT")
        and not os.environ.get("JAVA_HOME")
        and not any(os.access(Path(p) / "java", os.X_OK) for p in os.environ.get("PATH", "").split(os.pathsep) if p)
    ):
        raise EngineError(
            "Spark needs Java and none was found: apt-get install openjdk-17-jre-headless (or set JAVA_HOME)"
        )
    builder = SparkSession.builder.appName("loyalty-figures")
    if not os.environ.get("PYSPARK_GATEWAY_PORT"):  # not under spark-submit, whose --master and memory stand
        builder = builder.master(SPARK_MASTER).config("spark.driver.memory", SPARK_MEMORY)
    builder = (
        builder.config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", os.environ.get("LOYALTY_SPARK_PARTITIONS", "4"))
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j.configurationFile=file:{LOG_CONFIG}")
        .config("spark.sql.ansi.enabled", "true")
    )
    for key, setting in (settings or {}).items():
        builder = builder.config(key, setting)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # local mode: no need to resolve the host's name
    try:
        _spark = builder.getOrCreate()
    except Exception as exc:  # py4j/Java failures have no common root
        raise EngineError(f"Spark did not start: {str(exc).strip().splitlines()[0]}") from None
    _spark.sparkContext.setLogLevel("ERROR")
    return _spark


def stop_spark() -> None:
    global _spark
    if _spark is not None:
        _spark.stop()
        _spark = None


LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")


class Spark(Engine):
    """Spark SQL over the archive's files (any path Spark reads: a folder here, s3a://... on a cluster)."""

    name = "spark"

    def __init__(self, archive: str | Path):
        remote = "://" in str(archive)
        root = str(archive) if remote else str(_check_archive(archive))
        self.spark = spark_session()
        self.views: list[str] = []
        self.cached: list = []
        for name in TABLES:
            folder = f"{root.rstrip('/')}/{name}"
            if remote or any(Path(folder).glob("month=*/*.parquet")):
                frame = self.spark.read.option("basePath", folder).parquet(folder)
            else:  # no file yet: an empty table of the files' schema, through Arrow (no Python worker)
                import pyarrow as pa

                frame = self.spark.createDataFrame(schemas()[name].append(pa.field("month", pa.string())).empty_table())
            self._view(name, frame)
        # the roll-ups: each fresh month's file, the stale months from the raw views (rollups.py); an archive
        # Spark reads remotely (s3a://...) is taken as exported to the end: every roll-up read from its files
        fresh, stale = ([], []) if remote else rollups.status(Path(root))
        for name in rollups.ROLLUPS:
            folder = f"{root.rstrip('/')}/{name}"
            files = folder if remote else rollups.files(Path(root), name, fresh)
            relation = None
            if files:
                reader = self.spark.read.option("basePath", folder)
                frame = reader.parquet(files) if remote else reader.parquet(*files)
                self._view(f"{name}__files", frame)
                relation = f"{name}__files"
            self._view(name, self.spark.sql(rollups.view_sql(name, relation, stale)))

    def _view(self, name, frame):
        frame.createOrReplaceTempView(name)
        self.views.append(name)

    def register(self, name, columns, rows, by_column=False):
        # through Arrow: a local relation in the JVM (a list of rows would start Python workers, seconds each)
        self._view(name, self.spark.createDataFrame(_arrow_table(columns, rows, by_column)))

    def rows(self, sql):
        return [tuple(r) for r in self.spark.sql(sql).collect()]

    def materialize(self, name, sql):
        frame = self.spark.sql(sql).cache()
        self.cached.append(frame)
        self._view(name, frame)

    def close(self):
        for frame in self.cached:
            frame.unpersist()
        for name in self.views:
            self.spark.catalog.dropTempView(name)
        self.views, self.cached = [], []

    def days_between(self, earlier, later):
        return f"datediff({later}, {earlier})"

    def idiv(self, a, b):
        return f"(({a}) div ({b}))"

    def sorted_list(self, column):
        return f"array_sort(collect_list({column}))"


def engine(name: str, archive: str | Path) -> Engine:
    """The engine called `name` ("duckdb" or "spark") over the archive."""
    if name == "duckdb":
        return DuckDb(archive)
    if name == "spark":
        return Spark(archive)
    raise EngineError(f"no engine {name!r}: give one of {', '.join(ENGINES)}")
