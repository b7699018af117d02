"""The footer: the keys of the screen on one line that fits the terminal.

Textual's footer lays its keys out in a row and lets the last ones fall off the right edge (under the
command palette's key, which is docked there). This one plans the line for its width first: the full
words; else the compact look; else short words ("Pause" for "Pause/resume"); else without the palette's
key (ctrl+p still opens it); else the keys least needed are left out, but never the help key, which
lists every key (f1).
"""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# short words for a narrow footer, by a binding's description
SHORT = {
    "Pause/resume": "Pause",
    "Skip query": "Skip",
    "Stop run": "Stop",
    "Stop duel": "Stop",
    "About IPW": "IPW",
    "Sessions": "Sessions",
    "Leaderboard": "Board",
    "Compare sessions": "Compare",
    "Like for like": "Like",
    "Write files": "Write",
}
# actions left out first when even the short line does not fit (the help key lists them)
DROP_FIRST = ("sessions", "leaderboard", "reload", "open_sessions", "explain")
HELP_ACTION = "help"
PALETTE_CELLS = 12  # "▏^p palette" and its padding, docked on the right


def key_cells(key: str, description: str, compact: bool) -> int:
    """The cells a FooterKey takes (its padding and margin as Textual's stylesheet gives them)."""
    if not description:
        return cell_len(key) + (1 if compact else 2)
    if compact:
        return cell_len(key) + 1 + cell_len(description) + 1
    return cell_len(key) + 2 + cell_len(description) + 1


def plan(items: list[tuple[str, str, str]], width: int, palette: bool) -> tuple[bool, bool, list[tuple[str, str]]]:
    """(compact, palette shown, [(action, description)]) of a footer line that fits ``width`` cells.
    ``items``: (action, key as shown, description), in the screen's order."""

    def cells(chosen: list[tuple[str, str, str]], compact: bool, with_palette: bool) -> int:
        return sum(key_cells(k, d, compact) for _a, k, d in chosen) + (PALETTE_CELLS if with_palette else 0)

    short = [(a, k, SHORT.get(d, d)) for a, k, d in items]
    for compact, words, with_palette in ((False, items, palette), (True, items, palette), (True, short, palette),
                                         (True, short, False)):
        if cells(words, compact, with_palette) <= width:
            return compact, with_palette, [(a, d) for a, _k, d in words]
    kept = list(short)
    order = [a for a in DROP_FIRST] + [a for a, _k, _d in reversed(short)]
    for action in order:
        if cells(kept, True, False) <= width:
            break
        if action == HELP_ACTION:
            continue
        kept = [x for x in kept if x[0] != action]
    return True, False, [(a, d) for a, _k, d in kept]


class KeyFooter(Footer):
    """A footer that always fits its line (see the module docstring)."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._planned_for: tuple | None = None

    def _width(self) -> int:
        return self.size.width or self.app.size.width

    def _items(self):
        active = self.screen.active_bindings
        seen: dict[str, tuple] = {}
        for _node, binding, enabled, tooltip in active.values():
            if binding.show and binding.action not in seen:
                seen[binding.action] = (binding, enabled, tooltip)
        palette = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            palette = active.get(self.app.COMMAND_PALETTE_BINDING)
        return seen, palette

    def compose(self):
        if not self._bindings_ready:
            return
        seen, palette = self._items()
        items = [(action, self.app.get_key_display(b), b.description) for action, (b, _e, _t) in seen.items()]
        width = self._width()
        compact, with_palette, shown = plan(items, width, palette is not None)
        self._planned_for = (width, tuple(items), palette is not None)
        self.set_reactive(Footer.compact, compact)
        self.set_class(compact, "-compact")
        for action, description in shown:
            binding, enabled, tooltip = seen[action]
            yield FooterKey(binding.key, self.app.get_key_display(binding), description, binding.action,
                            disabled=not enabled, tooltip=tooltip or binding.description).data_bind(
                                compact=Footer.compact)
        if with_palette and palette is not None:
            _node, binding, enabled, tooltip = palette
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description, binding.action,
                            classes="-command-palette", disabled=not enabled,
                            tooltip=binding.tooltip or binding.description)

    def on_resize(self, event: events.Resize) -> None:
        if self._planned_for is not None and self._planned_for[0] != event.size.width:
            self.call_after_refresh(self.recompose)
