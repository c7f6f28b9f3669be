"""`loyalty till` with no subcommand: the cashier's Textual app for one till.

The app owns the session (journal, basket, printer) and the sync worker; the sale screen shows
them. Sync runs in OutboxSender's own threads, started and stopped from a thread worker, and the
status bar is refreshed from its status a few times a second.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timezone

from programme.i18n import N_, _
from programme.ticket import store_of, utc_now
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.screen import Screen

from sync.broker_url import BrokerUrl
from sync.reporter import StatusReporter
from sync.sender import OutboxSender

from .cardio import watch_chip
from .event_sender import EventSender
from .downlink import DownlinkListener
from .keys import head_office_trust
from .requests import Requester
from .rules_store import RulesListener, in_force, rules_version_now
from .errors import TillError
from .screens.panels import StatusBar
from .screens.sale import SaleScreen
from .screens.texts import TillCommandPalette, translate_bindings
from .till import TillSession

STATUS_INTERVAL = 0.25  # seconds between status bar refreshes
READER_STATES = {
    "starting": N_("starting"),
    "ready": N_("ready"),
    "card in": N_("card in"),
    "unavailable": N_("unavailable"),
}


def clock() -> datetime:
    """Now, in UTC, for the status bar (tests patch it to read a fixed time)."""
    return datetime.now(timezone.utc)


CSS = """
#main { height: 1fr; }
#left { width: 3fr; }
#right { width: 46; }
#lines { height: 1fr; border: round $primary; }
#totals { height: 4; border: round $primary; padding: 0 1; text-style: bold; }
#card { height: auto; min-height: 6; max-height: 10; border: round $secondary; padding: 0 1; }
#card.blocked { color: $error; text-style: bold; }
#receipt { height: 1fr; border: round $secondary; padding: 0 1; overflow-y: auto; }
#message { height: 1; padding: 0 1; }
#message.error { color: $error; text-style: bold; }
#prompt { padding: 0 1; color: $text-muted; }
#status { height: auto; max-height: 3; background: $success-darken-2; padding: 0 1; }  /* wraps on a narrow terminal */
#status.offline { background: $error-darken-2; }
"""


class TillApp(App):
    TITLE = "loyalty till"
    CSS = CSS
    # Textual's own Quit and command palette bindings, restated so that their labels are translated.
    BINDINGS = [
        Binding(
            "ctrl+q", "quit", N_("Quit"), tooltip=N_("Quit the app and return to the command prompt."), priority=True
        ),
        Binding(
            "ctrl+p",
            "command_palette",
            N_("Commands"),
            show=False,
            priority=True,
            tooltip=N_("Open the command palette"),
        ),
        Binding("f12", "close_day", N_("Close day")),
        Binding("ctrl+t", "training", N_("Training")),
    ]

    def __init__(
        self,
        db: str,
        terminal: str,
        *,
        broker: BrokerUrl | None = None,
        reader: str | None = None,
        printer: str = "dummy",
        cashier: str = "cashier",
        issuer_public_key=None,
        key: str | None = None,
        status_every: float | None = None,
    ):
        super().__init__()
        translate_bindings(self)
        self.title = _("Loyalty till")
        self.terminal = terminal
        self.cashier = cashier
        self.broker = broker
        self.reader_name = reader
        self.issuer_public_key = issuer_public_key  # None: cardreader's configured default
        self.reader = _("none (typed/scanned)") if reader is None else f"{reader}: {_(READER_STATES['starting'])}"
        self._reader_stop = threading.Event()
        self.sender = OutboxSender(db, terminal, broker) if broker else None
        self.event_sender = EventSender(db, terminal, broker) if broker else None  # voids, reprints... (NF525)
        trust = head_office_trust(key)  # head office's public key, written beside the till's at provisioning
        self.downlink = DownlinkListener(db, terminal, broker, trust) if broker else None
        self.rules_listener = RulesListener(db, broker, terminal, trust) if broker else None
        # Head office hears the backlog; the till asks it for unknown balances and other tills' tickets.
        self.reporter = StatusReporter(self.sender, rules_version_now, status_every) if broker else None
        self.requester = Requester(terminal, broker) if broker else None
        self.session = TillSession(
            db, terminal, cashier=cashier, printer=printer, online=self.is_online, key=key, requester=self.requester
        )
        self.sub_title = _("{terminal}  cashier {cashier}").format(terminal=terminal, cashier=cashier)

    def is_online(self) -> bool:
        return self.sender is not None and self.sender.status.connected

    def on_mount(self) -> None:
        self.sale_screen = SaleScreen(self.session)
        self.push_screen(self.sale_screen)
        if self.sender:
            self.start_sync()
        if self.reader_name:
            self.watch_reader()
        self.set_interval(STATUS_INTERVAL, self.refresh_status)
        self.call_after_refresh(self.refresh_status)

    @work(thread=True, exclusive=True, group="sync")
    def start_sync(self) -> None:
        self.sender.start()
        self.event_sender.start()
        self.downlink.start()
        self.rules_listener.start()
        self.reporter.start()
        self.requester.start()

    @work(thread=True, exclusive=True, group="reader")
    def watch_reader(self) -> None:
        """Chip reads off the UI thread: read on insert, check hot-list and balance, then show."""

        def shown(method, *args) -> None:
            if not self._reader_stop.is_set():
                self.call_from_thread(method, *args)

        def on_card(identity) -> None:
            try:
                balance = self.session.lookup_card(identity)
            except TillError as exc:
                shown(self.sale_screen.card_refused, str(exc))
                return
            shown(self.sale_screen.card_found, balance)

        def on_state(state: str) -> None:
            self.reader = f"{self.reader_name}: {_(READER_STATES.get(state, state))}"

        watch_chip(
            self.reader_name,
            self._reader_stop,
            public_key=self.issuer_public_key,
            on_card=on_card,
            on_error=lambda message: shown(self.sale_screen.card_refused, message),
            on_state=on_state,
        )

    def action_close_day(self) -> None:
        """F12: close the store's day and show (and print) its Z report."""
        from programme.errors import ProgrammeError
        from programme.i18n import _

        try:
            text = self.session.close_day()
        except (TillError, ProgrammeError) as exc:
            self.sale_screen.say(str(exc), error=True)
            return
        self.sale_screen.query_one("#receipt").update(text)
        days = len(self.session.closed_days)
        self.sale_screen.say(
            _("day closed: Z report printed")
            if days == 1
            else _("{count} days closed (days left open first): their Z reports printed").format(count=days)
        )

    def action_training(self) -> None:
        """Ctrl+T: enter or leave training mode ("mode école")."""
        from programme.errors import ProgrammeError
        from programme.i18n import _

        try:
            self.session.set_training(not self.session.training)
        except (TillError, ProgrammeError) as exc:
            self.sale_screen.say(str(exc), error=True)
            return
        self.sale_screen.say(
            _("training mode (mode école): nothing sold counts")
            if self.session.training
            else _("training mode left: sales count again")
        )

    def wake_sync(self) -> None:
        if self.sender:
            self.sender.wake()

    def refresh_status(self) -> None:
        bars = self.screen.query(StatusBar)
        if not bars:  # the sale screen is not composed yet, or a dialog is on top
            return
        if self.sender:
            status = self.sender.status
            online, backlog, last_ack = status.connected, status.backlog, status.last_ack_at
            if not online:
                backlog = self.session.journal.backlog()
        else:
            from sync import outbox

            online, backlog = False, self.session.journal.backlog()
            last_ack = outbox.state(self.session.journal.conn).get("last_ack_at")
        bars.first().show_status(
            online=online,
            broker=self.broker is not None,
            backlog=backlog,
            last_ack=last_ack,
            rules=in_force(self.session.journal.conn, utc_now()).version,
            reader=self.reader,
            store=store_of(self.terminal),
            till=self.terminal,
            cashier=self.cashier,
            now=clock(),
        )

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's command palette entries, in the current language (listed in screens/texts.py)."""
        for command in super().get_system_commands(screen):
            yield command._replace(title=_(command.title), help=_(command.help))

    def action_command_palette(self) -> None:
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(TillCommandPalette(id="--command-palette"))

    def on_unmount(self) -> None:
        self._reader_stop.set()
        if self.sender:
            self.reporter.stop()
            self.requester.stop()
            self.sender.stop()
            self.event_sender.stop()
            self.downlink.stop()
            self.rules_listener.stop()
        self.session.close_session()


def run_till(
    db: str,
    terminal: str,
    *,
    broker: BrokerUrl | None = None,
    reader: str | None = None,
    printer: str = "dummy",
    cashier: str = "cashier",
    key: str | None = None,
    status_every: float | None = None,
) -> None:
    TillApp(
        db, terminal, broker=broker, reader=reader, printer=printer, cashier=cashier, key=key, status_every=status_every
    ).run()
