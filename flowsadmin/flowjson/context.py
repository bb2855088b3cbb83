"""What one validation knows as it goes: the text, the data, the version, the screens, the messages.

Each rule module takes this context, reads what earlier rules collected and adds its messages.
Messages are kept with their JSON path and placed in the text once, at the end: locating is the
costly part, and most Flows have few messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .locate import Locator
from .report import JsonPath, Message, Report, format_path
from .versions import version_tuple


@dataclass
class Action:
    name: str
    raw: dict
    path: JsonPath
    component: str  # the type of the component that carries it
    slot: str  # on-click-action, on-select-action or on-unselect-action


@dataclass
class Screen:
    index: int
    raw: dict
    id: str | None
    path: JsonPath
    terminal: bool
    data_keys: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)  # names of its inputs, for ${form.x}
    has_footer: bool = False
    actions: list[Action] = field(default_factory=list)
    refs: list[tuple[str, JsonPath]] = field(default_factory=list)  # texts with "${"

    @property
    def label(self) -> str:
        return f'screen "{self.id}"' if self.id else f"screen {self.index + 1}"


class Context:
    def __init__(self, text: str, data: dict) -> None:
        self.text = text
        self.data = data
        self.pending: list[tuple[str, str, str, JsonPath]] = []
        self.seen: set[tuple[str, str, JsonPath]] = set()
        self.version: str | None = None  # only a known version; None turns version checks off
        self.screens: list[Screen] = []
        self.by_id: dict[str, Screen] = {}
        self._before: dict[tuple[str | None, str], bool] = {}

    def error(self, code: str, message: str, path: JsonPath) -> None:
        self._add("error", code, message, path)

    def warn(self, code: str, message: str, path: JsonPath) -> None:
        self._add("warning", code, message, path)

    def before(self, since: str) -> bool:
        """Whether the Flow's version is known and older than `since`."""
        # Asked for every component and property: remembered per version and `since`.
        key = (self.version, since)
        known = self._before.get(key)
        if known is None:
            known = self.version is not None and version_tuple(self.version) < version_tuple(since)
            self._before[key] = known
        return known

    def report(self) -> Report:
        locator = Locator(self.text)
        report = Report(data=self.data, version=self.version)
        if report.version is None and isinstance(self.data.get("version"), str):
            report.version = self.data["version"]
        for level, code, message, path in self.pending:
            line, column = locator.line_col(locator.offset(path))
            msg = Message(level, code, message, format_path(path), line, column)
            (report.errors if level == "error" else report.warnings).append(msg)
        report.errors.sort(key=lambda m: (m.line, m.column))
        report.warnings.sort(key=lambda m: (m.line, m.column))
        return report

    def _add(self, level: str, code: str, message: str, path: JsonPath) -> None:
        # Each finding is reported once, however many routes lead a rule to it.
        if (code, message, path) not in self.seen:
            self.seen.add((code, message, path))
            self.pending.append((level, code, message, path))


def cap(text: str) -> str:
    """Capitalize the first letter only ("screen "X"" starts a sentence as "Screen "X"")."""
    return text[:1].upper() + text[1:]
