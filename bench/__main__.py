"""`python -m bench [--quick] [NAME...]` (make bench): run the benchmarks and rewrite docs/performance.md."""
from __future__ import annotations

import importlib
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from .common import machine, table

BENCHES = ["ingest", "till", "card", "rules", "desk", "analytics", "store_pg"]
DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def section(name: str, module, result: dict) -> str:
    if hasattr(module, "markdown"):
        return module.markdown(result)
    return f"## {name}\n\n" + table([(k, v) for k, v in result.items()], ("measure", "value")) + "\n"


def main() -> None:
    quick = "--quick" in sys.argv
    chosen = [a for a in sys.argv[1:] if not a.startswith("--")] or BENCHES
    command = "make bench" if not quick and chosen == BENCHES else "python -m bench " + " ".join(sys.argv[1:])
    parts = []
    for name in chosen:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bench.{name}":
                raise
            continue
        print(f"running bench/{name}.py ...", file=sys.stderr)
        started = time.monotonic()
        result = module.run(quick=quick)
        text = section(name, module, result)
        print(text)
        parts.append(text + f"\n_bench/{name}.py took {time.monotonic() - started:.0f} s._\n")
    header = (
        "# Performance\n\n"
        "Every figure below was measured in one run, beside its baseline measured in the same run.\n"
        "Targets come from the issues; timing is never asserted in tests.\n\n"
        f"- Command: `{command}`\n- Machine: {machine()}\n"
        f"- Date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}\n\n"
    )
    DOC.write_text(header + "\n".join(parts))
    print(f"wrote {DOC}", file=sys.stderr)


main()
