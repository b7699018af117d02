"""Modal dialogs: an error with its message, the export dialog, and the keys help."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.message import Message
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from ..widgets.responsive import Responsive

EXPORT_FORMATS = [
    ("CSV + JSON: queries.csv, samples.csv, summary.json", "csv+json"),
    ("CSV + JSON + Markdown report (report.md)", "csv+json+report"),
    ("CSV + JSON + HTML report (report.html, with charts)", "csv+json+html"),
]
HTML_FORMAT = "csv+json+html"
EXPORT_NOTE = "Writes the files into the folder (made if missing); the session itself is not changed."


def html_report_problem() -> str | None:
    """Why the HTML report cannot be written here (its charts need matplotlib), or None."""
    import importlib.util

    try:
        missing = importlib.util.find_spec("matplotlib") is None  # looked up, not imported (cheap)
    except (ImportError, ValueError):  # a broken or blocked install
        missing = True
    if missing:
        from ...report.charts import INSTALL_HINT

        return f"The HTML report needs matplotlib, which is not installed: {INSTALL_HINT}"
    return None


class ErrorDialog(Responsive, ModalScreen[None]):
    """A problem, in one or a few lines, with nothing behind it lost. Enter or Escape closes it."""

    BINDINGS = [
        Binding("escape,enter", "dismiss_dialog", "Close", id="dialog.close"),
    ]

    def __init__(self, title: str, message: str) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="error-dialog", classes="dialog"):
            yield Label(self.title_text, id="error-title", classes="dialog-title")
            yield Static(self.message, id="error-message", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", id="error-ok", variant="primary")

    @on(Button.Pressed, "#error-ok")
    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)


class ExportDialog(Responsive, ModalScreen[dict | None]):
    """Choose a folder and a format. The dialog only asks: it posts ``Chosen`` and the app writes the
    files, then calls ``show_problem`` (the dialog stays, with what was typed) or ``done``.

    Several sessions (a duel's two): blank writes each into its own folder, a folder given gets one
    sub-folder per session; the HTML report is one report of them all."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="export.cancel"),
        Binding("ctrl+s", "export", "Write files", id="export.write"),
    ]

    class Chosen(Message):
        """The user's choice: write the session's export into ``dest`` (with a report when asked)."""

        def __init__(self, dialog: "ExportDialog", session_folder: str, dest: str, report: bool,
                     format: str | None = None, folders: list[str] | None = None) -> None:
            super().__init__()
            self.dialog = dialog
            self.session_folder = session_folder
            self.folders = folders or [session_folder]  # every session to export
            self.dest = dest
            self.report = report  # the Markdown report
            self.format = format or ("csv+json+report" if report else "csv+json")

    def __init__(self, session_folder: str | list[str], dest: str | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.folders = [session_folder] if isinstance(session_folder, str) else list(session_folder)
        self.session_folder = self.folders[0]
        self.several = len(self.folders) > 1
        self.dest = dest or ("" if self.several else self.session_folder)

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog", classes="dialog"):
            yield Label("Export sessions" if self.several else "Export session", classes="dialog-title")
            names = " · ".join(Path(f).name for f in self.folders)
            yield Static(f"sessions: {names}" if self.several else f"session: {names}", id="export-session",
                         markup=False)
            yield Label("Folder", classes="field-label")
            yield Input(self.dest, id="export-dir", placeholder="blank: each session's own folder" if self.several
                        else "destination folder")
            yield Label("Format", classes="field-label")
            yield Select(EXPORT_FORMATS, value=EXPORT_FORMATS[0][1], allow_blank=False, id="export-format")
            yield Static(EXPORT_NOTE, id="export-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export", id="export-ok", variant="primary")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        self.query_one("#export-dir", Input).focus()

    @on(Select.Changed, "#export-format")
    def _format_changed(self, event: Select.Changed) -> None:
        """Say at once when the chosen format cannot be written here (the HTML report without matplotlib)."""
        note = self.query_one("#export-error", Static)
        problem = html_report_problem() if event.value == HTML_FORMAT else None
        note.update(problem or EXPORT_NOTE)
        note.set_class(problem is not None, "-error")

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#export-ok")
    @on(Input.Submitted, "#export-dir")
    def action_export(self) -> None:
        dest = self.query_one("#export-dir", Input).value.strip()
        if not dest and not self.several:
            self.show_problem("give a destination folder")
            return
        self.query_one("#export-ok", Button).disabled = True
        self.query_one("#export-error", Static).update("writing…")
        format = str(self.query_one("#export-format", Select).value)
        self.post_message(self.Chosen(self, self.session_folder, dest, format.endswith("+report"), format,
                                      folders=list(self.folders)))

    def show_problem(self, message: str, advice: str = "pick another folder.") -> None:
        """The export failed: say why; the dialog stays, with what was typed."""
        self.query_one("#export-error", Static).update(f"{message}\nNothing was lost: the session is unchanged; "
                                                       f"{advice}")
        self.query_one("#export-error", Static).add_class("-error")
        self.query_one("#export-ok", Button).disabled = False
        self.app.bell()  # the message is in the dialog (a toast could cover its buttons)

    def done(self, paths: dict) -> None:
        self.dismiss(paths)


class HelpScreen(Responsive, ModalScreen[None]):
    """Every key of the app, by screen."""

    BINDINGS = [Binding("escape,f1,question_mark", "close", "Close", id="help.close")]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__(classes="dialog-screen")
        self.sections = sections

    def compose(self) -> ComposeResult:
        from rich.table import Table

        with Vertical(id="help-dialog", classes="dialog"):
            yield Label("Keys", classes="dialog-title")
            with VerticalScroll(id="help-body"):
                for title, rows in self.sections:
                    t = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
                    t.add_column(style="bold", min_width=14)
                    t.add_column()
                    for key, desc in rows:
                        t.add_row(key, desc)
                    yield Label(title, classes="help-section")
                    yield Static(t)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="help-close", variant="primary")

    @on(Button.Pressed, "#help-close")
    def action_close(self) -> None:
        self.dismiss(None)
