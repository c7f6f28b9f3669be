"""No module imports one that imports it back, however long the way round (import-linter's contracts in
pyproject.toml check the layers and the circles between siblings; this also catches a package and its own
modules, as a Flask app's __init__ and its blueprints)."""

import grimp

PACKAGES = ("programme", "sync", "cardreader", "terminal", "server", "loyalty")


def test_no_module_is_in_an_import_circle():
    graph = grimp.build_graph(*PACKAGES)
    circles = sorted(
        {
            tuple(sorted((module, imported)))
            for module in graph.modules
            for imported in graph.find_modules_directly_imported_by(module)
            if imported != module and graph.chain_exists(importer=imported, imported=module)
        }
    )
    assert circles == [], "import circles (each pair imports the other, directly or not): " + ", ".join(
        f"{a} <-> {b}" for a, b in circles
    )


def test_every_from_import_names_something_its_module_has():
    """`from X import name`, also inside a function (imported only when it runs), names what X holds: a name
    moved to another module fails here, not in a store when that function first runs."""
    import ast
    import importlib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    wrong = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            here = list(parts[:-1]) if parts[-1] != "__init__" else list(parts[:-1])
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.ImportFrom):
                    continue
                base = here[: len(here) - node.level + 1] if node.level else []
                module = ".".join(base + ([node.module] if node.module else []))
                if module.split(".")[0] not in PACKAGES:
                    continue
                found = importlib.import_module(module)
                for alias in node.names:
                    if not hasattr(found, alias.name):
                        try:
                            importlib.import_module(f"{module}.{alias.name}")
                        except ModuleNotFoundError:
                            wrong.append(f"{path.relative_to(root)}:{node.lineno}: {module} has no {alias.name}")
    assert wrong == [], "\n".join(wrong)


def _calls_outside(pattern: str, allowed: tuple[str, ...]) -> list[str]:
    """`file:line: text` of every line of server/, terminal/, sync/ and programme/ that matches `pattern`,
    outside the `allowed` modules and folders (comments and docstrings count too: they would mislead)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    found = []
    for package in ("server", "terminal", "sync", "programme"):
        for path in sorted((root / package).rglob("*.py")):
            name = path.relative_to(root).as_posix()
            if name.startswith(allowed):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if re.search(pattern, line):
                    found.append(f"{name}:{number}: {line.strip()}")
    return found


ENGINE_ROOMS = ("server/storage/", "server/ingest/store.py", "server/ingest/store_pg.py")


def test_only_the_database_and_store_rooms_ask_which_engine_they_run_on():
    """SQL that differs between SQLite and PostgreSQL is said once, in a named helper of server/storage
    (server/storage/sql.py); a feature module says what it wants, not how each engine spells it."""
    asking = _calls_outside(r"\b(dialect|is_pg)\(", ENGINE_ROOMS)
    assert asking == [], "ask server/storage (sql.py) instead of the engine's name:\n" + "\n".join(asking)


def test_transactions_are_opened_by_the_one_helper_of_each_database():
    """server.storage.connection.transaction on the server, sync.till_db.transaction at the till: nobody
    writes BEGIN by hand (and forgets the ROLLBACK, or the lock PostgreSQL needs)."""
    by_hand = _calls_outside(r"""execute\(\s*f?["'](BEGIN|COMMIT|ROLLBACK)""", ("server/storage/", "sync/till_db.py"))
    assert by_hand == [], "open the transaction with transaction(conn) instead:\n" + "\n".join(by_hand)


# Made at run time on purpose: a month's partition when a batch first touches it; the generator's own
# demo data.
TABLES_MADE_AT_RUN_TIME = ("server/ingest/store_pg.py", "server/analytics/generate.py")


def test_the_servers_tables_are_made_by_the_numbered_migrations():
    """A feature reads and writes its tables; server/storage/migrations.py makes them when a database is opened."""
    made_here = _calls_outside(
        r"CREATE (TABLE|INDEX|UNIQUE INDEX|TRIGGER)", ("server/storage/",) + TABLES_MADE_AT_RUN_TIME
    )
    made_here = [line for line in made_here if line.startswith("server/")]
    assert made_here == [], "make the table in a migration (server/storage/migrations.py):\n" + "\n".join(made_here)
