"""Every shipped theme keeps pane borders and text readable: at least 3:1 against what is behind them.

The colours are not written here: the app's stylesheet (app.tcss and the DEFAULT_CSS of the app's own
widgets and screens) is parsed by Textual's own CSS parser with each theme's generated variables, so the
test follows the stylesheet. For every rule that draws text (``color``), a border or a border title, the
colour (blended over the background when it has an alpha) is compared with the rule's own background when
it sets one, else with the two backgrounds a pane can sit on: ``$background`` and ``$surface``. The
contrast ratio is WCAG 2's: (L1 + 0.05) / (L2 + 0.05) of the relative luminances.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from textual.color import Color
from textual.css.stylesheet import Stylesheet
from textual.theme import BUILTIN_THEMES

from ipwtui.tui.themes import DEFAULT_THEME, FALLBACK_THEME, discover_themes

ROOT = Path(__file__).resolve().parents[1]
MIN_RATIO = 3.0  # WCAG 2.1: 1.4.11 (borders and graphics) and large text; our panes' text is also held to it


def luminance(c: Color) -> float:
    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)


def contrast(a: Color, b: Color) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def over(c: Color, behind: Color) -> Color:
    """``c`` as it shows over an opaque ``behind`` (a colour with an alpha is blended)."""
    return behind + c if c.a < 1 else c


def test_contrast_formula():
    # WCAG's own end points: black on white is 21:1, a colour on itself 1:1
    assert contrast(Color(0, 0, 0), Color(255, 255, 255)) == pytest.approx(21.0)
    assert contrast(Color(10, 20, 30), Color(10, 20, 30)) == pytest.approx(1.0)
    # mid grey #777 on white is just under 4.5:1 (a well-known borderline case)
    assert 4.4 < contrast(Color(0x77, 0x77, 0x77), Color(255, 255, 255)) < 4.5


def shipped_themes() -> dict:
    themes, problems = discover_themes([ROOT / "themes"])
    assert problems == []
    out = dict(themes)
    for name in (DEFAULT_THEME, FALLBACK_THEME):  # the theme the app starts with, and its fallback
        out.setdefault(name, BUILTIN_THEMES.get(name))
    assert all(out.values()), out
    return out


def app_css_sources() -> list[tuple[str, str, bool, str]]:
    """(css, where, is_default_css, scope) of the app's stylesheet and its own widgets' DEFAULT_CSS."""
    import ipwtui.tui as tui

    out = [((ROOT / "ipwtui" / "tui" / "app.tcss").read_text(encoding="utf-8"), "app.tcss", False, "")]
    seen = set()
    for info in pkgutil.walk_packages(tui.__path__, "ipwtui.tui."):
        mod = importlib.import_module(info.name)
        for _name, cls in inspect.getmembers(mod, inspect.isclass):
            css = cls.__dict__.get("DEFAULT_CSS")
            if cls.__module__ == mod.__name__ and css and cls not in seen:
                seen.add(cls)
                out.append((css, f"{cls.__module__}.{cls.__name__}", True, cls.__name__))
    return out


def drawn_colours(styles) -> list[tuple[str, Color]]:
    """(what, colour) of the text, border and border-title colours a rule sets (auto colours aside:
    Textual picks those for contrast itself)."""
    out = []
    if styles.has_rule("color") and not styles.get_rule("auto_color"):
        out.append(("color", styles.color))
    for edge in ("top", "right", "bottom", "left"):
        if styles.has_rule(f"border_{edge}"):
            kind, colour = getattr(styles, f"border_{edge}")
            if kind not in ("", "none", "hidden", "blank"):
                out.append((f"border-{edge}", colour))
    for key in ("border_title_color", "border_subtitle_color"):
        if styles.has_rule(key):
            out.append((key.replace("_", "-"), getattr(styles, key)))
    return out


def theme_failures(theme) -> list[str]:
    variables = theme.to_color_system().generate()
    bg = Color.parse(variables["background"])
    surface = over(Color.parse(variables["surface"]), bg)
    failures = []
    checked = 0
    for css, where, is_default, scope in app_css_sources():
        sheet = Stylesheet(variables=variables)
        sheet.add_source(css, read_from=(where, ""), is_default_css=is_default, scope=scope)
        sheet.parse()
        for rule in sheet.rules:
            st = rule.styles
            if st.has_rule("background") and not st.get_rule("auto_background"):
                behind = [("own background", over(st.background, bg))]
            else:
                behind = [("$background", bg), ("$surface", surface)]
            for what, colour in drawn_colours(st):
                if colour.a == 0:
                    continue
                for name, b in behind:
                    checked += 1
                    ratio = contrast(over(colour, b), b)
                    if ratio < MIN_RATIO:
                        sel = ", ".join(sorted(rule.selector_names)) or "?"
                        failures.append(f"{theme.name}: {where} {sel} {what} {colour.hex} on {name} {b.hex}: "
                                        f"{ratio:.2f}:1")
    assert checked > 20  # the stylesheet was read (a parse that found nothing would pass everything)
    return failures


@pytest.mark.parametrize("name", sorted(shipped_themes()))
def test_borders_and_text_are_readable(name):
    theme = shipped_themes()[name]
    assert theme_failures(theme) == []


def theme_files() -> dict:
    themes, _problems = discover_themes([ROOT / "themes"])
    return themes


@pytest.mark.parametrize("name", sorted(theme_files()))
def test_graph_lines_and_footer_keys_are_readable(name):
    """Our theme files' colours used outside the stylesheet: the power graph's lines (theme variables read
    by the widget) against the screen's background, and the footer's key letters (a variable the files
    set) against the footer."""
    from ipwtui.tui.widgets.power_graph import LINE_VARS

    v = theme_files()[name].to_color_system().generate()
    bg = Color.parse(v["background"])
    for var in LINE_VARS:
        c = Color.parse(v[var])
        assert contrast(over(c, bg), bg) >= MIN_RATIO, (name, var, c.hex)
    footer = over(Color.parse(v["footer-background"]), bg)
    key = Color.parse(v["footer-key-foreground"])
    assert contrast(over(key, footer), footer) >= MIN_RATIO, (name, key.hex, footer.hex)


def test_the_check_catches_a_faint_border():
    """A theme whose panel shades sit on the background (the old look of ipw-paper) fails the check."""
    from textual.theme import Theme

    faint = Theme(name="faint", primary="#2F5D8A", dark=False, foreground="#1F2328", background="#F7F5EF",
                  surface="#EFECE3", panel="#E3DFD3", variables={"foreground-muted": "#1F232820"})
    failures = theme_failures(faint)
    assert failures and any("border" in f for f in failures)
