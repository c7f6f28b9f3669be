"""Head office's ticket explorer: filters, a page of tickets, one ticket as printed, CSV export."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request

from server.desk import bounds
from server.ingest import till_events
from ..analytics import explorer as tickets
from ..errors import ServerError
from server.web.context import db, roles
from .office import OFFICE, parse_day, refused

bp = Blueprint("office_tickets", __name__, url_prefix="/office")
bp.register_error_handler(ServerError, refused)
FILTER_FIELDS = ("store", "terminal", "start", "end", "card", "customer", "min", "max", "gtin", "events")


def _euros(name: str) -> int | None:
    return bounds.parse_cents(request.args.get(name), name)


def ticket_filter() -> tickets.TicketFilter:
    args = request.args
    customer = args.get("customer", "").strip()
    customer = (
        bounds.parse_id(customer, "customer", expected="a customer number: give the number from the desk")
        if customer
        else None
    )
    return tickets.TicketFilter(
        store=args.get("store", "").strip(),
        terminal=args.get("terminal", "").strip(),
        start=parse_day("start", None),
        end=parse_day("end", None),
        card=args.get("card", "").strip(),
        customer_id=customer,
        min_cents=_euros("min"),
        max_cents=_euros("max"),
        gtin=args.get("gtin", "").strip(),
    )


@bp.route("/tickets")
@roles(*OFFICE)
def explorer():
    f = ticket_filter()
    page = bounds.parse_int(request.args.get("page"), "page", 1, bounds.MAX_PAGE, default=1)
    conn = db()
    query = {k: request.args[k] for k in FILTER_FIELDS if request.args.get(k)}
    what = request.args.get("events", "").strip()
    if what:  # the till's journal events instead of tickets: cancelled tickets, voids, reprints, training
        events = till_events.search(conn, what, store=f.store, terminal=f.terminal, start=f.start, end=f.end, page=page)
        return render_template(
            "office_tickets.html",
            rows=[],
            events=events,
            page=page,
            query=query,
            matching=0,
            page_size=till_events.PAGE_SIZE,
            count_limit=tickets.COUNT_LIMIT,
            kinds=till_events.EXPLORER_KINDS,
            stores=[],
        )
    rows = tickets.search(conn, f, page)
    return render_template(
        "office_tickets.html",
        rows=rows,
        events=None,
        kinds=till_events.EXPLORER_KINDS,
        page=page,
        query=query,
        matching=tickets.count(conn, f),
        page_size=tickets.PAGE_SIZE,
        count_limit=tickets.COUNT_LIMIT,
        stores=sorted(r[0] for r in conn.execute("SELECT DISTINCT store FROM store_day")),
    )


@bp.route("/tickets.csv")
@roles(*OFFICE)
def export():
    f = ticket_filter()
    connections = current_app.extensions["desk_connections"]

    def chunks():
        conn = connections.take()  # its own connection: the request's is handed back before the stream ends
        try:
            yield from tickets.export_csv(conn, f)
        finally:
            connections.give_back(conn)

    return Response(chunks(), mimetype="text/csv", headers={"Content-Disposition": "attachment; filename=tickets.csv"})


@bp.route("/tickets/<ticket_id>")
@roles(*OFFICE)
def ticket(ticket_id: str):
    from programme.vat import ticket_vat_table

    conn = db()
    found = tickets.detail(conn, ticket_id)
    events = till_events.events_of_ticket(conn, ticket_id, found["terminal"], found["seq"], found["closed_at"])
    # The same VAT table as the receipt's (programme.vat): per rate, from each rate's TTC total.
    return render_template("office_ticket.html", t=found, vat=ticket_vat_table(found["ticket"]), events=events)
