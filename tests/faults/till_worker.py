"""A till as a process for fault tests: sells forever and syncs, until killed (with -9, usually).

Run: python -m tests.faults.till_worker --db DB --terminal ID --broker URL --seed N
It prints the sequence of each ticket it closes, so the test can wait for progress.
"""

import argparse
import sys

from sync import sender
from sync.broker_url import parse_broker_url
from sync.sender import OutboxSender
from terminal.journal import Journal
from terminal.sale import sell
from terminal.simulate import Shopper

sender.ACK_TIMEOUT = 1.0
sender.POLL_INTERVAL = 0.05


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--terminal", required=True)
    parser.add_argument("--broker", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-tickets", type=int, default=10**9)
    args = parser.parse_args()
    journal = Journal(args.db, args.terminal)
    shopper = Shopper(seed=args.seed)
    out = OutboxSender(args.db, args.terminal, parse_broker_url(args.broker)).start()
    while journal.last_seq() < args.max_tickets:
        ticket = sell(journal, *shopper.basket(max_lines=8))
        out.wake()
        print(ticket.seq, flush=True)
    out.wait_synced(3600)


if __name__ == "__main__":
    sys.exit(main())
