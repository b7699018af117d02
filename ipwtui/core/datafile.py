"""The project's versioned data tables (``ipwtui/data/*.json``: API prices, cited cloud energy), or a file
a user gives in their place: read and parsed with one-line errors naming the file (and the line)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any


def read_table(packaged: str, path: str | Path | None, list_key: str, error: type[Exception]) -> tuple[dict, str]:
    """(the table, the name its errors use): the file at ``path``, else the packaged ``packaged``. It must
    be a JSON object holding a ``list_key`` list; anything else raises ``error`` in one line."""
    if path is None:
        name = packaged
        text = (resources.files("ipwtui") / "data" / packaged).read_text(encoding="utf-8")
    else:
        name = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise error(f"{name}: cannot read: {e.strerror or e}") from None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as e:
        raise error(f"{name}: line {e.lineno}: not valid JSON: {e.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get(list_key), list):
        article = "an" if list_key[:1] in "aeiou" else "a"
        raise error(f"{name}: expected an object with {article} '{list_key}' list")
    return data, name
