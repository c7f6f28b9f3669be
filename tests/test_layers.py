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
