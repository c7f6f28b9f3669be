"""The store's legal mentions printed at the head of every receipt: name, address, SIRET, VAT number.

They are the store's, not the till's nor head office's rules: a small TOML file written once when the store's
tills are installed, `store.toml` beside the till's key (the folder `loyalty till provision --key-dir` made),
or the file `LOYALTY_STORE_SETTINGS` names:

    name = "Supermarché du Centre"
    address = ["12 rue de la Paix", "75002 Paris"]
    siret = "73282932000074"
    vat_number = "FR44732829320"

The SIRET (14 digits, Luhn key) and the intra-community VAT number (FR, a 2-digit key, the SIREN) are checked,
so a typo never reaches a receipt. Without a file the receipt names the store by its id only.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import TillError

SETTINGS_FILE = "store.toml"
SETTINGS_ENV = "LOYALTY_STORE_SETTINGS"
MAX_SETTINGS_BYTES = 16 * 1024
MAX_FIELD = 42  # a receipt line


@dataclass(frozen=True)
class StoreSettings:
    name: str
    address: tuple[str, ...] = ()
    siret: str = ""
    vat_number: str = ""


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def vat_key(siren: str) -> int:
    """The key of a French intra-community VAT number: (12 + 3 x (SIREN mod 97)) mod 97."""
    return (12 + 3 * (int(siren) % 97)) % 97


def parse_settings(text: str, source: str = SETTINGS_FILE) -> StoreSettings:
    """The settings of a store.toml; TillError names the field and what is expected."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TillError(f"{source}: not TOML ({exc}): see docs/till.md, receipts") from None
    unknown = sorted(set(data) - {"name", "address", "siret", "vat_number"})
    if unknown:
        raise TillError(f"{source}: unknown field {unknown[0]!r}: the fields are name, address, siret, vat_number")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_FIELD:
        raise TillError(f"{source}: name must be the store's name, 1 to {MAX_FIELD} characters")
    address = data.get("address", [])
    if isinstance(address, str):
        address = [address]
    if (
        not isinstance(address, list)
        or len(address) > 4
        or not all(isinstance(a, str) and 0 < len(a) <= MAX_FIELD for a in address)
    ):
        raise TillError(f"{source}: address must be 1 to 4 lines of at most {MAX_FIELD} characters")
    siret = str(data.get("siret", "")).replace(" ", "")
    if siret and (len(siret) != 14 or not siret.isdigit() or not luhn_ok(siret)):
        raise TillError(
            f"{source}: siret {data['siret']!r} is not a SIRET (14 digits with a valid key): copy it "
            "from the store's Kbis"
        )
    vat = str(data.get("vat_number", "")).replace(" ", "").upper()
    if vat and (
        len(vat) != 13 or not vat.startswith("FR") or not vat[2:].isdigit() or int(vat[2:4]) != vat_key(vat[4:])
    ):
        raise TillError(
            f"{source}: vat_number {data['vat_number']!r} is not a French VAT number (FR, 2-digit key, SIREN)"
        )
    if siret and vat and siret[:9] != vat[4:]:
        raise TillError(f"{source}: vat_number {vat} is not the one of SIRET {siret} (SIREN {siret[:9]})")
    return StoreSettings(name.strip(), tuple(address), siret, vat)


def load_settings(till_key: str | Path | None = None) -> StoreSettings | None:
    """$LOYALTY_STORE_SETTINGS, else store.toml beside the till's key; None when there is neither."""
    env = os.environ.get(SETTINGS_ENV)
    path = Path(env) if env else (Path(till_key).parent / SETTINGS_FILE if till_key else None)
    if path is None or (not env and not path.exists()):
        return None
    try:
        data = path.read_bytes()[: MAX_SETTINGS_BYTES + 1]
    except OSError as exc:
        raise TillError(f"store settings {path} cannot be read ({exc.strerror}): see docs/till.md, receipts") from None
    if len(data) > MAX_SETTINGS_BYTES:
        raise TillError(f"{path}: more than {MAX_SETTINGS_BYTES} bytes: it holds four fields")
    return parse_settings(data.decode("utf-8", errors="replace"), str(path))


def format_siret(siret: str) -> str:
    """73282932000074 -> 732 829 320 00074, as printed."""
    return f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}"
