"""Every MQTT topic of the contract, built and parsed in one place (see docs/mqtt.md)."""

from programme.ticket import TERMINAL_ID

PREFIX = "loyalty/v1"
TICKETS_SUBSCRIPTION = f"{PREFIX}/up/+/tickets"
STATUS_SUBSCRIPTION = f"{PREFIX}/up/+/status"
REQUESTS_SUBSCRIPTION = f"{PREFIX}/up/+/requests"
EVENTS_SUBSCRIPTION = f"{PREFIX}/up/+/events"
RULES = f"{PREFIX}/down/all/rules"
HOTLIST = f"{PREFIX}/down/all/hotlist"
OFFERS = f"{PREFIX}/down/all/offers"
CATALOGUE = f"{PREFIX}/down/all/catalogue"  # every store's articles; one store's under CATALOGUE/{store}


def catalogue(scope: str) -> str:
    """The retained catalogue of `scope`: "all" (every store) or a store id (S001). Under down/all so every
    till may read it with the broker's ACL; a till keeps only its own store's and every store's."""
    return CATALOGUE if scope == "all" else f"{CATALOGUE}/{scope}"


def tickets(terminal: str) -> str:
    return f"{PREFIX}/up/{terminal}/tickets"


def events(terminal: str) -> str:
    """A till's journal events (voids, cancellations, reprints, training, archivings); acked on `acks`."""
    return f"{PREFIX}/up/{terminal}/events"


def acks(terminal: str) -> str:
    return f"{PREFIX}/down/{terminal}/acks"


def balances(terminal: str) -> str:
    return f"{PREFIX}/down/{terminal}/balances"


def commands(terminal: str) -> str:
    return f"{PREFIX}/down/{terminal}/commands"


def status(terminal: str) -> str:
    return f"{PREFIX}/up/{terminal}/status"


def requests(terminal: str) -> str:
    return f"{PREFIX}/up/{terminal}/requests"


def replies(terminal: str) -> str:
    return f"{PREFIX}/down/{terminal}/replies"


def terminal_of_up_topic(topic: str, leaf: str = "tickets") -> str | None:
    """The terminal id in `loyalty/v1/up/{terminal}/{leaf}`, or None when the topic is not of that form."""
    parts = topic.split("/")
    if len(parts) == 5 and parts[:3] == ["loyalty", "v1", "up"] and parts[4] == leaf:
        if TERMINAL_ID.match(parts[3]):
            return parts[3]
    return None
