"""Textual's own English words on the till screen (key labels, the command palette) put through `_()`.

Textual has no i18n: its bindings and system commands carry English text. The till's bindings are written
with `N_()` and translated here when a screen is made; Textual's system commands and the command palette's
prompt are listed below so that the catalog carries their French.
"""

from __future__ import annotations

from dataclasses import replace

from programme.i18n import N_, _
from textual.command import CommandPalette

# Textual's system commands (App.get_system_commands) and the palette's own key labels, as Textual spells them.
TEXTUAL_WORDS = (
    N_("Theme"),
    N_("Change the current theme"),
    N_("Quit"),
    N_("Quit the application as soon as possible"),
    N_("Keys"),
    N_("Hide the keys and widget help panel"),
    N_("Show help for the focused widget and a summary of available keys"),
    N_("Minimize"),
    N_("Minimize the widget and restore to normal size"),
    N_("Maximize"),
    N_("Maximize the focused widget"),
    N_("Screenshot"),
    N_("Save an SVG 'screenshot' of the current screen"),
    N_("Exit the command palette"),
    N_("Next command"),
    N_("Previous command"),
    N_("Next page"),
    N_("Previous page"),
    N_("Go to top"),
    N_("Go to bottom"),
    N_("Copy selected text"),
)
PALETTE_PROMPT = N_("Search for commands…")


def translate_bindings(node) -> None:
    """Show `node`'s key labels and tooltips in the current language (call right after its __init__)."""
    bindings = node._bindings  # Textual keeps them per node; their descriptions are shown as they are
    bindings.key_to_bindings = {
        key: [
            replace(
                binding,
                description=_(binding.description) if binding.description else "",
                tooltip=_(binding.tooltip) if binding.tooltip else "",
            )
            for binding in per_key
        ]
        for key, per_key in bindings.key_to_bindings.items()
    }


class TillCommandPalette(CommandPalette):
    """Textual's command palette with its prompt and keys in the current language."""

    def __init__(self, **kwargs) -> None:
        super().__init__(placeholder=_(PALETTE_PROMPT), **kwargs)
        translate_bindings(self)
