"""No module imports one that imports it back, however long the way round (import-linter's contracts in
pyproject.toml check the layers and the circles between siblings; this also catches a package and its own
modules, as a Flask app's __init__ and its blueprints)."""

import grimp

PACKAGES = ("programme", "sync", "cardreader", "terminal", "server", "loyalty")


def test_no_module_is_in_an_import_circle():
    graph = grimp.build_graph(*PACKAGES)
    circles = sorted({
        tuple(sorted((module, imported)))
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if graph.chain_exists(importer=imported, imported=module)
    })
    assert circles == [], "import circles (each pair imports the other, directly or not): " + ", ".join(
        f"{a} <-> {b}" for a, b in circles)
