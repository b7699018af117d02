"""Size classes for screens: the stylesheet lays a screen out for 80x24 upwards from classes set here.

TCSS has no media queries, so a screen mixing in ``Responsive`` sets classes on itself from the terminal's
size (when it is mounted, resized, or shown again after a resize under another screen), and the
stylesheet's rules under them do the rest (``.-compact #figures {...}``):

- ``-narrow``: fewer than ``COMPACT_WIDTH`` columns (the figure boxes would cut their digits);
- ``-short``: fewer than ``COMPACT_HEIGHT`` rows (the figure boxes, graph and table do not all fit);
- ``-compact``: either of them.

A class change restyles the screen (a layout pass): it happens on a resize, never during a run's frames.

``WholeRepaint``: a screen whose widgets then repaint only the lines that change (the run and duel screens)
is painted whole, every cell and the header's title, right after it is shown and with its first frame:
a frame of the switch that the terminal never got (Textual drops a frame rendered during a batch update)
must not leave the previous screen's cells under it until the next resize.
"""

from __future__ import annotations

from textual import events
from textual.geometry import Size
from textual.widgets import Header

COMPACT_WIDTH = 110
COMPACT_HEIGHT = 30


def size_classes(width: int, height: int) -> dict[str, bool]:
    narrow, short = width < COMPACT_WIDTH, height < COMPACT_HEIGHT
    return {"-narrow": narrow, "-short": short, "-compact": narrow or short}


class Responsive:
    """Mixin for a ``Screen``: keeps the size classes. ``size_changed(classes)`` is called after a change,
    for what a screen draws differently when compact (text that CSS cannot shorten)."""

    def apply_size(self, size: Size | None = None) -> None:
        size = size if size is not None else self.app.size  # type: ignore[attr-defined]
        classes = size_classes(size.width, size.height)
        if all(self.has_class(c) == on for c, on in classes.items()):  # type: ignore[attr-defined]
            return
        self.set_classes_for_size(classes)
        self.size_changed(classes)

    def set_classes_for_size(self, classes: dict[str, bool]) -> None:
        for c, on in classes.items():
            self.set_class(on, c)  # type: ignore[attr-defined]

    @property
    def compact(self) -> bool:
        return self.has_class("-compact")  # type: ignore[attr-defined]

    def size_changed(self, classes: dict[str, bool]) -> None:
        """Override: redraw what depends on the size classes."""

    def on_mount(self) -> None:
        self.apply_size()

    def on_resize(self, event: events.Resize) -> None:
        self.apply_size(event.size)

    def on_screen_resume(self) -> None:
        self.apply_size()  # resized while another screen was on top


class WholeRepaint:
    """Mixin for a ``Screen``: paint the whole screen when it is shown (see the module docstring): right
    after it is shown, and again with its first frame of content (``frame_drawn``, called by the screen
    at the end of each of its frames)."""

    whole_repaints = 0  # how many times the screen was painted whole (for tests)
    _whole_due = True

    def on_screen_resume(self) -> None:
        self._whole_due = True
        self.call_after_refresh(self.repaint_whole)  # type: ignore[attr-defined]

    def frame_drawn(self) -> None:
        if self._whole_due:
            self._whole_due = False
            self.repaint_whole()

    def repaint_whole(self) -> None:
        if not self.is_current:  # type: ignore[attr-defined]
            return
        for header in self.query(Header):  # type: ignore[attr-defined]
            for title in header.query("HeaderTitle"):
                title.update(header.format_title())
        self.refresh()  # type: ignore[attr-defined]  (no region: every cell of the screen)
        self.whole_repaints += 1
