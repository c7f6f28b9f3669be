"""SVG charts for the head-office pages (pygal), inline, with no external scripts."""

from __future__ import annotations

import sys

import pygal
from pygal.style import Style

from programme.i18n import _, format_number

# pygal puts an old-style import hook (for its map plugins, unused here) on sys.meta_path; every
# later failed import then warns (ImportWarning: find_spec not found), an error under our tests.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    colors=("#0b6e4f", "#b54708", "#667085"),
    font_family="system-ui, sans-serif",
)


def _config(title: str) -> dict:
    return {
        "title": title,
        "style": STYLE,
        "js": [],
        "disable_xml_declaration": True,
        "width": 560,
        "height": 340,
        "show_legend": True,
        "legend_at_bottom": True,
        "explicit_size": True,
        # numbers on the axes and in the tooltips as the page's language writes them (64,2 in French)
        "value_formatter": format_number,
        "x_value_formatter": format_number,
    }


def pareto_svg(curve: list[tuple[float, float]]) -> str:
    chart = pygal.XY(
        **_config(_("Pareto: share of sales by share of customers")),
        range=(0, 100),
        xrange=(0, 100),
        x_title=_("customers (%), best first"),
        y_title=_("sales (%)"),
        dots_size=2,
    )
    chart.add(_("customers"), [(round(x * 100, 1), round(y * 100, 1)) for x, y in curve])
    chart.add(_("equal shares"), [(0, 0), (100, 100)])
    return chart.render(is_unicode=True)


def deciles_svg(groups: list[dict]) -> str:
    chart = pygal.Bar(**_config(_("Sales by decile of customers")), y_title=_("sales (%)"), x_title=_("decile"))
    chart.x_labels = [str(g["decile"]) for g in groups]
    chart.add(_("share of sales"), [round(g["share"] * 100, 1) for g in groups])
    return chart.render(is_unicode=True)
