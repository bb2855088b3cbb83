"""Strings PostgreSQL or UTF-8 refuse, replaced once where a payload enters the system.

A JSON text may spell a NUL (`\\u0000`) or a lone UTF-16 surrogate (`\\ud800`) as an escape; Python
decodes both into the string, and then PostgreSQL's text and jsonb refuse the NUL and UTF-8 refuses
the surrogate, so every write or answer carrying it fails, every retry the same way. Each door a payload
comes in by (the endpoint's decrypted request, a webhook body, a customer endpoint's answer, a
completion's response_json) parses with `loads_clean`, so nothing downstream ever meets one.

Framework-free. The cost on the endpoint's path is one scan of the text for those escapes (about 1 µs
for a typical 500-byte request); the decoded value is walked only when one is there.
"""

from __future__ import annotations

import json
import re
from typing import Any

REPLACEMENT = "\ufffd"
# In decoded text: NUL and any surrogate (json joins a valid pair into one character, so a surrogate
# left in a decoded string is always a lone one).
_REFUSED = re.compile("[\x00\ud800-\udfff]")
# In JSON text: the escapes that decode to NUL or a surrogate. A whole pair (high then low) is matched
# as one 12-character escape: that is how a client that escapes non-ASCII spells an emoji, and it
# must not cost a walk; any other match is a NUL or a lone surrogate. Starting with the literal \u,
# the scan runs at memchr speed on text without escapes.
_ESCAPE = r"\\u(?:[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|0000|[dD][89a-fA-F])"
_PAIR = 12
_ESCAPES = re.compile(_ESCAPE)
_ESCAPES_BYTES = re.compile(_ESCAPE.encode())


def clean(value: Any) -> Any:
    """The value with NUL and lone surrogates replaced by U+FFFD, in keys and values at any depth."""
    if isinstance(value, str):
        return _REFUSED.sub(REPLACEMENT, value)
    if isinstance(value, dict):
        return {clean(key): clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean(item) for item in value]
    return value


def loads_clean(text: str | bytes) -> Any:
    """json.loads, with NUL and lone surrogates replaced; raises what json.loads raises."""
    value = json.loads(text)
    pattern = _ESCAPES_BYTES if isinstance(text, bytes | bytearray) else _ESCAPES
    if any(match.end() - match.start() != _PAIR for match in pattern.finditer(text)):
        value = clean(value)
    return value
