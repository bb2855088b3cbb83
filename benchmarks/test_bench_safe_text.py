"""The cost on the endpoint's path of replacing NUL and lone surrogates (wabas/safe_text.py): the scan
of the decrypted text that every request pays, and the walk that only a request carrying one pays.

Printed per request: json.loads alone, loads_clean, the scan alone, for a typical 500-byte
data_exchange request as the WhatsApp client sends it (UTF-8) and as a client escaping non-ASCII
would (an emoji as a \\ud83d\\ude00 pair, which must not trigger the walk).
"""

from __future__ import annotations

import json
import timeit

from wabas.safe_text import _ESCAPES_BYTES, clean, loads_clean

REQUEST = {
    "version": "3.0",
    "action": "data_exchange",
    "screen": "seat_selection",
    "flow_token": "wft1." + "a" * 120,
    "data": {
        "next_screen": "booking_confirmation",
        "seat": "12A",
        "depart_from": "Pune",
        "travel_date": "2026-12-24",
        "ct-evt": {
            "evtName": "Seat Selected",
            "evtData": {"seat": "12A", "route": "Pune - Mumbai"},
        },
        "ct-up": {"Email": "ana@example.org", "City": "Pune"},
    },
}


def per_call_us(fn, number: int = 100_000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6


def test_bench_safe_text_on_the_endpoint_path():
    utf8 = json.dumps(REQUEST, ensure_ascii=False).encode()
    escaped = json.dumps(REQUEST | {"data": REQUEST["data"] | {"note": "😀 café"}}).encode()
    for name, text in (("utf-8", utf8), ("escaped emoji", escaped)):
        plain = per_call_us(lambda t=text: json.loads(t))
        ours = per_call_us(lambda t=text: loads_clean(t))
        scan = per_call_us(lambda t=text: any(_ESCAPES_BYTES.finditer(t)))
        print(  # noqa: T201
            f"\n{name} ({len(text)} B): json.loads {plain:.1f} µs, loads_clean {ours:.1f} µs, "
            f"scan {scan:.2f} µs"
        )
        assert loads_clean(text) == json.loads(text)
    walk = per_call_us(lambda: clean(json.loads(escaped)), number=20_000)
    print(f"walk of a request that carries a NUL or lone surrogate: {walk:.1f} µs")  # noqa: T201
