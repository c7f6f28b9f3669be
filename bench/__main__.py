"""`python -m bench [--quick] [NAME...]` (make bench): run the benchmarks and write docs/performance.md.

A full run rewrites the page (text put by hand between sections stays). A run of some benches replaces only
their sections, each marked and dated with the command that produced it. A --quick run prints and writes nothing.
"""

from __future__ import annotations

import importlib
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from .common import machine, table

BENCHES = [
    "ingest",
    "till",
    "card",
    "rules",
    "desk",
    "analytics",
    "store_pg",
    "desk_pg",
    "uplink",
    "office_pg",
    "archive",
    "paho",
    "next_offer",
    "posapi",
]
DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def section(name: str, module, result: dict) -> str:
    if hasattr(module, "markdown"):
        return module.markdown(result)
    return f"## {name}\n\n" + table([(k, v) for k, v in result.items()], ("measure", "value")) + "\n"


def marked(name: str, text: str) -> str:
    return f"<!-- bench:{name} -->\n{text}<!-- /bench:{name} -->\n"


def replace_sections(doc: str, sections: dict[str, str]) -> str | None:
    """`doc` with each marked section replaced; None when one of them is not in the page yet."""
    for name, text in sections.items():
        pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->\n.*?<!-- /bench:{re.escape(name)} -->\n", re.S)
        if not pattern.search(doc):
            return None
        doc = pattern.sub(lambda _: marked(name, text), doc)
    return doc


def kept_after(doc: str) -> dict[str, str]:
    """The text a person put between marked sections (a section measured by hand, say the 10 M tickets
    one), by the section it follows: a full run rewrites the sections and keeps these where they were."""
    kept = {}
    for found in re.finditer(r"<!-- /bench:([\w-]+) -->\n(.*?)(?=<!-- bench:|\Z)", doc, re.S):
        if found.group(2).strip():
            kept[found.group(1)] = found.group(2)
    return kept


def main() -> None:
    quick = "--quick" in sys.argv
    chosen = [a for a in sys.argv[1:] if not a.startswith("--")] or BENCHES
    command = "make bench" if not quick and chosen == BENCHES else "python -m bench " + " ".join(sys.argv[1:])
    parts: dict[str, str] = {}
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
        when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        parts[name] = text + f"\n_bench/{name}.py took {time.monotonic() - started:.0f} s (`{command}`, {when})._\n"
    if quick:
        print("--quick: docs/performance.md left as it is", file=sys.stderr)
        return
    header = (
        "# Performance\n\n"
        "Every figure below was measured in one run, beside its baseline measured in the same run.\n"
        "Targets come from the issues; timing is never asserted in tests.\n\n"
        f"- Command: `{command}`\n- Machine: {machine()}\n"
        f"- Date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}\n\n"
    )
    if chosen == BENCHES:
        kept = kept_after(DOC.read_text()) if DOC.exists() else {}
        DOC.write_text(header + "\n".join(marked(name, text) + kept.get(name, "") for name, text in parts.items()))
    else:
        updated = replace_sections(DOC.read_text(), parts) if DOC.exists() else None
        if updated is None:
            print(
                f"{DOC} has no marked section for {', '.join(parts)}: run `make bench` once to write the whole page",
                file=sys.stderr,
            )
            return
        DOC.write_text(updated)
    print(f"wrote {DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
