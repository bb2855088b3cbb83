"""Where a JSON path is in the text: its line and column, found without parsing the text twice."""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from json.decoder import scanstring

from .report import JsonPath

WS = re.compile(r"[ \t\n\r]*")

_SCAN = json.JSONDecoder().scan_once


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of an offset."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


class Locator:
    """Maps a JSON path to its offset in the text, scanning only the containers on the way.

    The C decoder skips over each sibling value, so a lookup costs little more than `json.loads`
    of the part of the text before it; every scanned container is remembered for the next lookup.
    Duplicate keys resolve to the last one, as `json.loads` does.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.values: dict[JsonPath, int] = {(): WS.match(text).end()}
        self.keys: dict[JsonPath, int] = {}
        self.scanned: set[JsonPath] = set()
        self.line_starts: list[int] | None = None
        self.lookups = 0

    def offset(self, path: JsonPath) -> int:
        """Where path is; for a path that is not in the text, where its nearest container is."""
        known = len(path)
        while path[:known] not in self.values:
            known -= 1
        for depth in range(known, len(path)):
            prefix = path[:depth]
            if prefix not in self.scanned:
                self._scan(prefix)
            if path[: depth + 1] not in self.values:
                return self.values[prefix]
        # Point at the property name for object members: that is the line people look at.
        return self.keys.get(path, self.values[path])

    def line_col(self, offset: int) -> tuple[int, int]:
        self.lookups += 1
        if self.line_starts is None and self.lookups > 16:
            # Many messages in a long text: one pass instead of counting newlines each time.
            self.line_starts = [0, *(m.end() for m in re.finditer("\n", self.text))]
        if self.line_starts is None:
            return line_col(self.text, offset)
        index = bisect_right(self.line_starts, offset) - 1
        return index + 1, offset - self.line_starts[index] + 1

    def _scan(self, prefix: JsonPath) -> None:
        text, ws = self.text, WS.match
        self.scanned.add(prefix)
        pos = self.values[prefix]
        opener = text[pos : pos + 1]
        if opener not in ("{", "["):
            return
        closer = "}" if opener == "{" else "]"
        pos = ws(text, pos + 1).end()
        index = 0
        while text[pos : pos + 1] != closer:
            if opener == "{":
                key_at = pos
                key, pos = scanstring(text, pos + 1)
                pos = ws(text, ws(text, pos).end() + 1).end()  # past the colon
                child: JsonPath = (*prefix, key)
                self.keys[child] = key_at
            else:
                child = (*prefix, index)
                index += 1
            self.values[child] = pos
            _, pos = _SCAN(text, pos)
            pos = ws(text, pos).end()
            if text[pos : pos + 1] == ",":
                pos = ws(text, pos + 1).end()
