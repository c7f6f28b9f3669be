"""Every command explains itself, and every command and topic is documented (the docs cannot rot)."""

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from loyalty.cli import SUBCOMMANDS, main
from sync import topics

ROOT = Path(__file__).resolve().parent.parent


def all_commands():
    ctx = click.Context(main)
    found = []

    def walk(group, path):
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            found.append((*path, name))
            if isinstance(command, click.Group):
                walk(command, (*path, name))

    walk(main, ())
    return found


@pytest.mark.parametrize("path", all_commands(), ids=" ".join)
def test_every_subcommand_has_help(path):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.splitlines()) > 4


def test_every_command_is_documented():
    docs = (ROOT / "README.md").read_text() + "".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
    missing = [" ".join(p) for p in all_commands() if f"loyalty {' '.join(p)}" not in docs]
    assert not missing, f"document these commands in README.md or docs/: {missing}"
    assert set(SUBCOMMANDS) <= {p[0] for p in all_commands()}


def test_every_topic_is_in_the_mqtt_contract():
    contract = (ROOT / "docs" / "mqtt.md").read_text()
    names = [
        topics.TICKETS_SUBSCRIPTION,
        topics.RULES,
        topics.HOTLIST,
        topics.OFFERS,
        topics.tickets("{terminal}"),
        topics.acks("{terminal}"),
        topics.commands("{terminal}"),
        topics.STATUS_SUBSCRIPTION,
        topics.status("{terminal}"),
        topics.REQUESTS_SUBSCRIPTION,
        topics.requests("{terminal}"),
        topics.replies("{terminal}"),
        topics.CATALOGUE,
        topics.catalogue("{store}"),
    ]
    missing = [n for n in names if n not in contract]
    assert not missing, f"docs/mqtt.md does not mention {missing}"
    assert re.search(r"acked_to", contract) and re.search(r"resend", contract)
