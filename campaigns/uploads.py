"""An uploaded CSV of phone numbers, read line by line into UploadedNumber rows.

Memory stays bounded whatever the file's size: Django keeps a large upload in a temporary file,
we read it one line at a time (a line is capped at MAX_LINE_BYTES), write valid numbers in batches
of BATCH rows, and find duplicates in the database (the upload's unique constraint) rather than in
a set that would grow with the file. Every row that isn't used is reported with its line number:
not a phone number, no country code, a duplicate of an earlier line, or an unreadable line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import phonenumbers
from django.db import transaction

from .models import AudienceUpload, Campaign, UploadedNumber

BATCH = 2000
MAX_LINE_BYTES = 4096
# A first line naming one of these is a header: the number is in that column.
NUMBER_HEADERS = {
    "phone", "phone_number", "phone number", "number", "mobile", "tel", "telephone", "whatsapp",
    "whatsapp_id", "msisdn", "wa_id",
}  # fmt: skip


@dataclass(frozen=True)
class Row:
    line: int
    value: str
    whatsapp_id: str = ""  # E.164 digits without "+", when valid
    problem: str = ""


def _lines(file: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) of each line; None for a line over MAX_LINE_BYTES (skipped to its end)."""
    number = 0
    while True:
        raw = file.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # throw the rest of the long line away
                raw = file.readline(MAX_LINE_BYTES + 1)
            yield number, None
            continue
        yield number, raw


def parse_number(value: str, default_region: str) -> tuple[str, str]:
    """(WhatsApp id, "") for a real phone number, else ("", the problem in words)."""
    text = value.strip()
    if not text:
        return "", "empty"
    if text.startswith("00"):  # the international prefix many countries write instead of +
        text = "+" + text[2:]
    has_country = text.startswith("+")
    if not has_country and text.isdigit() and not default_region:
        # Digits alone may already be an international number without its "+" (a WhatsApp id).
        try:
            candidate = phonenumbers.parse("+" + text, None)
        except phonenumbers.NumberParseException:
            candidate = None
        if candidate is not None and phonenumbers.is_valid_number(candidate):
            return phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)[
                1:
            ], ""
    try:
        number = phonenumbers.parse(text, None if has_country else (default_region or None))
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            if not has_country and not default_region:
                return (
                    "",
                    "no country code: write it as +<country code><number>, or choose a default region",
                )
            return "", "unknown country code"
        return "", "not a phone number"
    if not phonenumbers.is_valid_number(number):
        return "", "not a valid phone number" + (
            "" if has_country or not default_region else f" in {default_region}"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:], ""


def read_rows(file: BinaryIO, default_region: str = "") -> Iterator[Row]:
    """Each data row of a CSV of numbers, parsed; a header line (phone, number, ...) is skipped."""
    column, first = 0, True
    for line, raw in _lines(file):
        if raw is None:
            yield Row(line, "", problem=f"line longer than {MAX_LINE_BYTES} bytes")
            continue
        text = raw.decode("utf-8", errors="replace").lstrip("\ufeff").strip("\r\n")
        if not text.strip():
            continue  # blank lines (a trailing newline, a spacer) are not rows
        try:
            cells = next(csv.reader([text]))
        except csv.Error:
            yield Row(line, text[:80], problem="not readable as CSV")
            continue
        if first:
            first = False
            names = [c.strip().lower() for c in cells]
            header = next((i for i, name in enumerate(names) if name in NUMBER_HEADERS), None)
            if header is not None:
                column = header
                continue
        value = cells[column] if column < len(cells) else ""
        whatsapp_id, problem = parse_number(value, default_region)
        yield Row(line, value.strip()[:80], whatsapp_id, problem)


def store_upload(
    campaign: Campaign, file: BinaryIO, *, file_name: str, default_region: str = ""
) -> AudienceUpload:
    """Replace the campaign's uploaded audience with this file's valid numbers; report the rest."""
    with transaction.atomic():
        AudienceUpload.objects.filter(campaign=campaign).delete()
        upload = AudienceUpload.objects.create(
            campaign=campaign, file_name=file_name[:255], default_region=default_region
        )
        problems: list[dict] = []
        counts = {"rows": 0, "valid": 0, "problems": 0}

        def problem(row: Row, text: str) -> None:
            counts["problems"] += 1
            if len(problems) < AudienceUpload.MAX_KEPT_PROBLEMS:
                problems.append({"line": row.line, "value": row.value, "problem": text})

        def flush(batch: list[Row]) -> None:
            # Duplicates of earlier batches are found by the database; of this batch, here.
            earlier = dict(
                UploadedNumber.objects.filter(
                    upload=upload, whatsapp_id__in={r.whatsapp_id for r in batch}
                ).values_list("whatsapp_id", "line")
            )
            new: list[UploadedNumber] = []
            for row in batch:
                if row.whatsapp_id in earlier:
                    problem(row, f"duplicate of line {earlier[row.whatsapp_id]}")
                    continue
                earlier[row.whatsapp_id] = row.line
                new.append(
                    UploadedNumber(upload=upload, whatsapp_id=row.whatsapp_id, line=row.line)
                )
            UploadedNumber.objects.bulk_create(new, batch_size=BATCH)
            counts["valid"] += len(new)

        batch: list[Row] = []
        for row in read_rows(file, default_region):
            counts["rows"] += 1
            if row.problem:
                problem(row, row.problem)
                continue
            batch.append(row)
            if len(batch) >= BATCH:
                flush(batch)
                batch = []
        if batch:
            flush(batch)
        upload.rows, upload.valid = counts["rows"], counts["valid"]
        upload.problems, upload.problem_count = problems, counts["problems"]
        upload.save(update_fields=["rows", "valid", "problems", "problem_count"])
    return upload
