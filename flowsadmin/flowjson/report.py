"""What a validation returns: a Report of Messages, each with the line and column it points at."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from .versions import is_publishable

JsonPath = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"[^.\[\]'\"\s]+\Z")


@dataclass(frozen=True, slots=True)
class Message:
    level: str  # "error" or "warning"
    code: str  # short machine id, e.g. "unknown-navigate-target"
    message: str  # plain words: what is wrong and what to do
    path: str  # JSON path, e.g. $.screens[1].layout.children[3]
    line: int  # 1-based, into the text as given
    column: int  # 1-based, in characters

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    errors: list[Message] = field(default_factory=list)
    warnings: list[Message] = field(default_factory=list)
    data: dict | None = None  # the parsed Flow JSON when its syntax is fine
    version: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def messages(self) -> list[Message]:
        """Errors and warnings in the order they appear in the text."""
        return sorted(
            self.errors + self.warnings, key=lambda m: (m.line, m.column, m.level != "error")
        )

    @property
    def publishable(self) -> bool:
        return self.ok and self.version is not None and is_publishable(self.version)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "version": self.version,
            "errors": [m.as_dict() for m in self.errors],
            "warnings": [m.as_dict() for m in self.warnings],
        }


def format_path(path: JsonPath) -> str:
    parts = ["$"]
    for part in path:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif _PLAIN_KEY.match(part):
            parts.append(f".{part}")
        else:
            parts.append(f"[{json.dumps(part, ensure_ascii=False)}]")
    return "".join(parts)


def format_message(msg: Message, filename: str | None = None) -> str:
    """One line in the compiler style editors and CI logs understand: file:line:col: level: text [path]."""
    where = f"{msg.line}:{msg.column}"
    if filename:
        where = f"{filename}:{where}"
    return f"{where}: {msg.level}: {msg.message} [{msg.path}]"
