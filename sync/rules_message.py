"""The retained rules message on loyalty/v1/down/all/rules: every published rules version, as TOML text.

Retained MQTT keeps one message per topic, so the message holds all versions: a till that was
offline for months still receives every version and can use the one in force at each ticket's time.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from programme.errors import RulesError
from programme.rules import RuleSet, parse_rules

from .errors import CodecError

SCHEMA_VERSION: Final = 1  # Final: its type is Literal[1], what RulesBundle.schema accepts


class PublishedRules(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: str
    effective_from: str
    toml: str


class RulesBundle(msgspec.Struct, forbid_unknown_fields=True):
    schema: Literal[1]
    versions: list[PublishedRules]


_decoder = msgspec.json.Decoder(RulesBundle)


def decode_bundle(payload: bytes) -> RulesBundle:
    try:
        return _decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise CodecError(f"bad rules message: {exc}") from None


def encode_bundle(bundle: RulesBundle) -> bytes:
    return msgspec.json.encode(bundle)


def add_version(bundle: RulesBundle | None, text: str, source: str = "rules") -> tuple[RulesBundle, RuleSet, bool]:
    """The bundle with this rules text added; (bundle, rules, added). The same version with other text is refused."""
    rules = parse_rules(text, source)
    versions = list(bundle.versions) if bundle else []
    for published in versions:
        if published.version == rules.version:
            if published.toml != text:
                raise RulesError(
                    f"rules version {rules.version} was already published with other content: "
                    "a published version never changes; give the new rules a new version"
                )
            return RulesBundle(SCHEMA_VERSION, versions), rules, False
    versions.append(PublishedRules(rules.version, rules.effective_from.isoformat(), text))
    versions.sort(key=lambda p: (p.effective_from, p.version))
    return RulesBundle(SCHEMA_VERSION, versions), rules, True
