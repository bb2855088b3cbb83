"""Reading the text as JSON, and when that fails, saying which usual paste mistake it is.

The usual culprits: comments, trailing commas, smart or single quotes, unquoted keys, Python's
True/None, a BOM, a truncated paste. Every message names the line and column to fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .locate import WS, line_col
from .report import Message

# Far beyond any real Flow (the three examples are 5-10 KB); keeps a wrong paste from tying up a worker.
MAX_TEXT_CHARS = 10_000_000
# Real Flows nest about 15 levels; this is only reported when the parser itself gives up.
MAX_NESTING = 100

_SMART_QUOTES = "“”‘’„‚«»"
# A string literal, or (group 1) what we look for outside of strings.
_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|(//|/\*|#)')
_BRACKETS = re.compile(r'"(?:[^"\\\n]|\\.)*"|([\[{])|([\]}])')
_CONSTANT = re.compile(r'"(?:[^"\\\n]|\\.)*"|(-?Infinity|NaN)')
_WORD = re.compile(r"[A-Za-z_$][\w$-]*")


@dataclass
class Parsed:
    """The text as read: its data when it is one JSON object, or the errors that say why not."""

    text: str  # as given, with a BOM replaced by a space so that offsets stay the same
    data: dict | None = None
    errors: list[Message] = field(default_factory=list)
    warnings: list[Message] = field(default_factory=list)


def parse(text: str) -> Parsed:
    """Read a Flow JSON text; `data` is set only when it is a single JSON object."""
    if len(text) > MAX_TEXT_CHARS:
        size = len(text) / 1_000_000
        return Parsed(
            text,
            errors=[
                Message(
                    "error", "too-large",
                    f"The text is {size:.1f} million characters long; the limit is "
                    f"{MAX_TEXT_CHARS // 1_000_000} million. A Flow is far smaller than this: "
                    "check that you pasted the right file.",
                    "$", 1, 1,
                )
            ],
        )  # fmt: skip
    notes: list[Message] = []
    if text.startswith("\ufeff"):
        # A space keeps every offset, and so every line and column, the same as in the original.
        text = " " + text[1:]
        notes.append(
            Message(
                "warning", "bom",
                "The text starts with a byte order mark (BOM, an invisible character some editors "
                "add). It was ignored here, but Meta may refuse it: save the file as UTF-8 "
                "without BOM.",
                "$", 1, 1,
            )
        )  # fmt: skip
    if not text.strip():
        empty = Message(
            "error", "empty",
            "The Flow JSON is empty: paste the JSON from Meta's Flow builder.",
            "$", 1, 1,
        )  # fmt: skip
        return Parsed(text, errors=[empty], warnings=notes)
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        return Parsed(text, errors=[_syntax_error(text, exc)], warnings=notes)
    except _ConstantError as exc:
        return Parsed(text, errors=[_constant_error(text, exc.args[0])], warnings=notes)
    except RecursionError:
        return Parsed(text, errors=[nesting_error(text)], warnings=notes)

    if not isinstance(data, dict):
        line, column = line_col(text, WS.match(text).end())
        msg = Message(
            "error", "not-an-object",
            f"The Flow JSON must be one object {{...}} with \"version\" and \"screens\", but this is "
            f"{json_type(data)}. If you pasted a list of Flows or a fragment, paste a single whole "
            "Flow.",
            "$", line, column,
        )  # fmt: skip
        return Parsed(text, errors=[msg], warnings=notes)
    return Parsed(text, data=data, warnings=notes)


def json_type(value: Any) -> str:
    """The kind of a JSON value in the words our messages use."""
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    return "a number"


def nesting_error(text: str) -> Message:
    """Too deep for the parser (or for the checks): point at the bracket past MAX_NESTING."""
    depth, at = 0, 0
    for match in _BRACKETS.finditer(text):
        if match.group(1):
            depth += 1
            if depth > MAX_NESTING:
                at = match.start()
                break
        elif match.group(2):
            depth -= 1
    return _syntax_message(
        "nested-too-deeply", text, at,
        f"The JSON is nested too deeply (more than {MAX_NESTING} levels of [ or {{ by line "
        "{line}, column {column}); a Flow needs about 15. Look for brackets that are opened "
        "and never closed.",
    )  # fmt: skip


class _ConstantError(ValueError):
    pass


def _refuse_constant(name: str) -> None:
    # Python's json accepts NaN and Infinity; JSON (and Meta) does not.
    raise _ConstantError(name)


def _find_outside_strings(pattern: re.Pattern[str], text: str, start: int = 0) -> Iterator[int]:
    for match in pattern.finditer(text, start):
        if match.group(1):
            yield match.start(1)


def _syntax_message(code: str, text: str, offset: int, message: str) -> Message:
    line, column = line_col(text, offset)
    text = message.replace("{line}", str(line)).replace("{column}", str(column))
    return Message("error", code, text, "$", line, column)


def _syntax_error(text: str, exc: json.JSONDecodeError) -> Message:
    pos = exc.pos
    rest = text[pos : pos + 2]
    char = rest[:1]
    before = len(text[:pos].rstrip(" \t\r\n"))  # index just after the previous non-blank character

    if rest in ("//", "/*") or char == "#":
        others = sorted(
            {line_col(text, at)[0] for at in _find_outside_strings(_COMMENT, text, pos + 2)}
            - {line_col(text, pos)[0]}
        )
        also = f" (and the ones on lines {', '.join(map(str, others))})" if others else ""
        return _syntax_message(
            "json-comment", text, pos,
            "JSON has no comments: remove the comment on line {line}" + also + ". "
            "Comments in examples are notes for people; Meta refuses them.",
        )  # fmt: skip
    if char and char in "]}" and before and text[before - 1] == ",":
        return _syntax_message(
            "json-trailing-comma", text, before - 1,
            "Trailing comma on line {line}: JSON allows no comma after the last item of a list or "
            "object. Remove this comma.",
        )  # fmt: skip
    if char and char in _SMART_QUOTES:
        return _syntax_message(
            "json-smart-quote", text, pos,
            f"Smart quote {char} on line {{line}}, column {{column}}: JSON needs straight double "
            'quotes ("). Word processors and chat apps replace them; paste from a code editor '
            "or replace every “ ” ‘ ’ with \".",
        )  # fmt: skip
    if char == "'":
        return _syntax_message(
            "json-single-quote", text, pos,
            "Single quote on line {line}, column {column}: JSON strings and property names need "
            "double quotes (\"), not single quotes (').",
        )  # fmt: skip
    word = _WORD.match(text, pos)
    if word and exc.msg.startswith("Expecting property name"):
        return _syntax_message(
            "json-unquoted-key", text, pos,
            f'Property name without quotes on line {{line}}: write "{word.group()}" instead of '
            f"{word.group()} (JSON property names need double quotes).",
        )  # fmt: skip
    if word and exc.msg.startswith("Expecting value"):
        literal = word.group()
        fixes = {"True": "true", "False": "false", "None": "null", "undefined": "null"}
        if literal in fixes:
            hint = f"write {fixes[literal]} instead of {literal}"
        else:
            hint = f'text values need double quotes: write "{literal}"'
        return _syntax_message(
            "json-bare-word", text, pos,
            f"Unexpected {literal} on line {{line}}, column {{column}}: {hint}.",
        )  # fmt: skip
    if pos >= len(text.rstrip()) and exc.msg.startswith(("Expecting", "Unterminated")):
        return _syntax_message(
            "json-truncated", text, min(pos, len(text)),
            "The JSON stops before it is complete (line {line}): a closing } or ] or a quote is "
            "missing, or only part of the Flow was pasted.",
        )  # fmt: skip
    if exc.msg.startswith("Expecting ',' delimiter"):
        return _syntax_message(
            "json-missing-comma", text, before,
            "A comma is missing on line {line}, column {column}: items of a list or object are "
            "separated by commas. Add one here.",
        )  # fmt: skip
    if exc.msg.startswith("Expecting ':' delimiter"):
        return _syntax_message(
            "json-missing-colon", text, pos,
            "A colon is missing on line {line}, column {column}: write "
            '"property": value, with a colon after the property name.',
        )  # fmt: skip
    if exc.msg.startswith("Invalid control character"):
        return _syntax_message(
            "json-control-character", text, pos,
            "A line break or tab inside a string on line {line}: close the string on the same line "
            "and write line breaks as \\n.",
        )  # fmt: skip
    if exc.msg.startswith("Invalid \\"):
        return _syntax_message(
            "json-bad-escape", text, pos,
            "Invalid backslash escape on line {line}, column {column}: in JSON strings write \\\\ "
            'for a backslash, \\" for a quote and \\n for a line break.',
        )  # fmt: skip
    if exc.msg.startswith("Extra data"):
        return _syntax_message(
            "json-extra-data", text, pos,
            "More text follows the end of the JSON, on line {line}, column {column}: remove it "
            "(a Flow is exactly one object; were two pasted?).",
        )  # fmt: skip
    line_end = text.find("\n", pos)
    line_text = text[text.rfind("\n", 0, pos) + 1 : line_end if line_end >= 0 else len(text)]
    quotes = [q for q in _SMART_QUOTES if q in line_text]
    if quotes:
        return _syntax_message(
            "json-smart-quote", text, pos,
            f"Line {{line}} contains the smart quote {quotes[0]}: JSON needs straight double quotes "
            '("). Replace every “ ” ‘ ’ with ".',
        )  # fmt: skip
    return _syntax_message(
        "json-syntax",
        text,
        pos,
        f"JSON syntax error on line {{line}}, column {{column}}: {exc.msg.lower()}.",
    )


def _constant_error(text: str, name: str) -> Message:
    at = next(_find_outside_strings(_CONSTANT, text), 0)
    return _syntax_message(
        "json-syntax", text, at,
        f"{name} on line {{line}} is not a JSON value: write a number, or null.",
    )  # fmt: skip
