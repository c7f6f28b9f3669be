"""NF525 on the Textual screen, driven by the pilot: a void (F4) and a cancelled ticket (F3) journaled,
training mode (Ctrl+T) printing "mode école", and the close-day key (F12) printing the Z report."""

import pytest

from programme.signing import new_private_key, private_key_pem
from terminal.app import TillApp
from tests.terminal.test_app import OIL, RAZORS, SIZE, pilot_test, text_of, type_in

pytestmark = pytest.mark.usefixtures("english")  # written when the till spoke only English


def key_file(tmp_path) -> str:
    path = tmp_path / "till.key"
    path.write_bytes(private_key_pem(new_private_key()))
    path.chmod(0o600)
    return str(path)


@pilot_test
async def test_void_cancel_training_and_close_day_from_the_keys(tmp_path):
    app = TillApp(str(tmp_path / "till.db"), "S001-T01", cashier="alice", key=key_file(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await type_in(pilot, OIL)
        await type_in(pilot, RAZORS)
        await pilot.press("f4")
        await type_in(pilot, "")  # the last line
        await pilot.press("f3")
        assert [e.kind for e in app.session.journal.events()] == ["line_void", "ticket_cancel"]
        await type_in(pilot, OIL)
        await pilot.press("f10")
        await type_in(pilot, "")
        await pilot.press("ctrl+t")
        assert text_of(app, "#message") == "training mode (mode école): nothing sold counts"
        await type_in(pilot, RAZORS)
        await pilot.press("f10")
        await type_in(pilot, "")
        assert "MODE ECOLE" in text_of(app, "#receipt")
        await pilot.press("ctrl+t")
        await pilot.press("f12")
        assert text_of(app, "#message") == "day closed: Z report printed"
        report = text_of(app, "#receipt")
        assert report.splitlines()[0].strip().startswith("Z REPORT ")
        assert "cancelled tickets" in report and "training tickets" in report and "perpetual total" in report
        lines = {line.split()[0]: line for line in report.splitlines() if line.startswith(("tickets ", "training"))}
        assert lines["tickets"].split()[-1] == "1"
        assert b"Z REPORT" in app.session.printer.output
