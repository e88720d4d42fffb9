"""The console's Jinja2 environment: templates shipped in this package, autoescaped."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"

templates = Jinja2Templates(directory=HERE / "templates")


def when(value: Any) -> str:
    """A time as the console shows it (UTC, to the minute); '—' for none."""
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return str(moment.strftime("%Y-%m-%d %H:%M UTC"))


templates.env.filters["when"] = when
