"""Shared helpers for benchmarks: percentiles, the machine, Markdown tables."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary_ms(samples_s: list[float]) -> dict:
    ms = [s * 1000 for s in samples_s]
    return {
        "p50_ms": round(percentile(ms, 50), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "n": len(ms),
    }


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mosquitto = (
        subprocess.run(
            ["bash", "-c", "dpkg-query -W -f='${Version}' mosquitto 2>/dev/null"], capture_output=True, text=True
        ).stdout
        or "?"
    )
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}, Mosquitto {mosquitto}"
    )


def table(rows: list[tuple], headers: tuple) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def timed(fn, args) -> list[float]:
    """Seconds each call fn(a) took, for each a of args, in order."""
    out = []
    for a in args:
        started = time.perf_counter()
        fn(a)
        out.append(time.perf_counter() - started)
    return out
