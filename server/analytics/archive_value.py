"""Customer value, deciles, value ranks and RFM computed by DuckDB straight from the archive's tickets.

The figures are defined once in server.analytics.figures (which Spark runs too); this is their DuckDB
entry point with the inputs read from the server database: the card -> customer map
(value.card_owners) and the point's cash value, as today.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from .engines import DuckDb
from .figures import Figures, customer_figures, prepare
from .value import point_value_cents

# scaled // 1000 rounded toward minus infinity, as Python's // (DuckDB's // on integers truncates toward zero);
# figures._floor_thousandths writes the same for either engine
FLOOR_THOUSANDTHS = "(scaled - ((scaled % 1000) + 1000) % 1000) // 1000"

__all__ = ["FLOOR_THOUSANDTHS", "Figures", "figures"]


def figures(
    archive: str | Path,
    start: date,
    end: date,
    owners: dict[str, int] | None = None,
    point_cents: int | None = None,
    with_stores: bool = False,
) -> Figures:
    """Customer values (as value.customer_values), deciles (as value.deciles), value ranks (as value.value_ranks)
    and RFM scores (as rfm.rfm_scores) over [start, end] from the archive. `owners`: card -> desk customer id
    (value.card_owners(conn) of the server database)."""
    with DuckDb(archive) as engine:
        prepare(engine, owners or {})
        return customer_figures(
            engine, start, end, point_value_cents() if point_cents is None else point_cents, with_stores
        )
