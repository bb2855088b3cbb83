"""`manage.py validate_flow FILE...`: the dashboard's Flow JSON checks, for Flows kept in git."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from flowsadmin.flowjson import Message, Report, format_message, validate

EXIT_ERRORS = 1
EXIT_UNREADABLE = 2


class Command(BaseCommand):
    help = (
        "Validate Flow JSON files as the dashboard does: prints file:line:column: level: message "
        "[JSON path] for each problem and a summary per file. Exits 1 when any file has an error "
        "(warnings alone exit 0) and 2 when a file can't be read."
    )
    # Pure file checking: no database, no system checks, so it runs in CI without a server.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="Flow JSON files to check")
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print one JSON document with every file's messages instead of text lines.",
        )

    def handle(self, *args: Any, files: list[str], **options: Any) -> None:
        results: list[dict[str, Any]] = []
        unreadable = with_errors = 0
        for filename in files:
            try:
                with open(filename, "rb") as handle:
                    raw = handle.read()
            except OSError as exc:
                unreadable += 1
                reason = exc.strerror or str(exc)
                self.stderr.write(f"{filename}: cannot read the file: {reason}")
                results.append({"file": filename, "readable": False, "reason": reason})
                continue
            report = _validate_bytes(raw)
            with_errors += not report.ok
            results.append({"file": filename, "readable": True, **report.as_dict()})
            if not options["json"]:
                self._print_text(filename, report)

        if options["json"]:
            self.stdout.write(json.dumps(results, indent=2, ensure_ascii=False))
        elif len(files) > 1:
            self.stdout.write(
                f"{len(files)} files: {with_errors} with errors, {unreadable} unreadable."
            )
        if unreadable:
            raise CommandError(
                f"{unreadable} of {len(files)} files could not be read.", returncode=EXIT_UNREADABLE
            )
        if with_errors:
            raise CommandError(
                f"{with_errors} of {len(files)} files have errors.", returncode=EXIT_ERRORS
            )

    def _print_text(self, filename: str, report: Report) -> None:
        for msg in report.messages:
            self.stdout.write(format_message(msg, filename))
        errors, warnings = len(report.errors), len(report.warnings)
        version = f"version {report.version}" if report.version else "no version"
        verdict = "FAILED" if not report.ok else "OK with warnings" if warnings else "OK"
        self.stdout.write(
            f"{filename}: {verdict} ({version}): {errors} error{'s' * (errors != 1)}, "
            f"{warnings} warning{'s' * (warnings != 1)}"
        )


def _validate_bytes(raw: bytes) -> Report:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        msg = Message(
            "error",
            "not-utf8",
            f"The file is not UTF-8 text (byte {exc.start + 1} on line {line}): save it as UTF-8, "
            "which is what Meta expects.",
            "$",
            line,
            column,
        )
        return Report(errors=[msg])
    return validate(text)
