"""Header media samples: what Meta accepts for review, checked from the file's content, not its name.

Limits from the product document and Meta: Image png/jpeg at most 5 MB (3:2 recommended), Video mp4
at most 16 MB, Document pdf at most 16 MB. The real type comes from the file's first bytes (puremagic,
a pure-Python magic-bytes reader), so a PDF renamed .png is refused; Pillow reads an image's size from
its header for the 3:2 advice. Sizes are checked before the file is read: `CappedUploadHandler` drops
an upload as soon as it passes the largest limit, and `check_sample` looks at UploadedFile.size first.
"""

from __future__ import annotations

from dataclasses import dataclass

import puremagic
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from PIL import Image, UnidentifiedImageError

MB = 1024 * 1024


@dataclass(frozen=True)
class MediaRule:
    label: str  # "an image"
    mime_types: tuple[str, ...]
    extensions: tuple[str, ...]
    max_bytes: int


MEDIA_RULES = {
    "IMAGE": MediaRule("an image", ("image/png", "image/jpeg"), ("png", "jpeg", "jpg"), 5 * MB),
    "VIDEO": MediaRule("a video", ("video/mp4",), ("mp4",), 16 * MB),
    "DOCUMENT": MediaRule("a document", ("application/pdf",), ("pdf",), 16 * MB),
}
LARGEST = max(rule.max_bytes for rule in MEDIA_RULES.values())
# Enough of the file for every signature puremagic knows of these types.
SNIFF_BYTES = 8192
# How far from 3:2 an image may be before we suggest another (a 15% difference in width/height).
RATIO_TOLERANCE = 0.15


class SampleRejected(ValueError):
    """The sample can't go to Meta; the message says why."""


@dataclass(frozen=True)
class Sample:
    """A checked sample, read into memory only after every check passed."""

    content: bytes
    content_type: str
    filename: str
    width: int | None = None
    height: int | None = None
    warning: str = ""


def accept_attribute(header_format: str) -> str:
    rule = MEDIA_RULES.get(header_format)
    if rule is None:
        return ",".join(f".{e}" for r in MEDIA_RULES.values() for e in r.extensions)
    return ",".join([*(f".{e}" for e in rule.extensions), *rule.mime_types])


def check_sample(upload: UploadedFile, header_format: str) -> Sample:
    """The sample's bytes and real type, or SampleRejected: empty, too large, or not what it claims."""
    rule = MEDIA_RULES[header_format]
    name = upload.name or "sample"
    if not upload.size:
        raise SampleRejected(f"{name} is empty: upload {rule.label} with something in it.")
    if upload.size > rule.max_bytes:
        raise SampleRejected(
            f"{name} is {upload.size / MB:.1f} MB; {rule.label} sample can be at most "
            f"{rule.max_bytes // MB} MB."
        )
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in rule.extensions:
        raise SampleRejected(f"{name}: {rule.label} sample is a {', '.join(rule.extensions)} file.")
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    found = _sniff(head)
    if not set(found) & set(rule.mime_types):
        what = found[0] if found else "not a file type we recognise"
        raise SampleRejected(
            f"{name} is named .{extension} but its content is {what}: upload a real "
            f"{'/'.join(rule.extensions)} file."
        )
    content_type = next(t for t in rule.mime_types if t in found)
    upload.seek(0)
    width = height = None
    warning = ""
    if header_format == "IMAGE":
        try:
            with Image.open(upload) as image:  # reads only the header
                width, height = image.size
        except (UnidentifiedImageError, OSError):
            raise SampleRejected(f"{name} is not an image that can be opened.") from None
        warning = ratio_warning(width, height)
        upload.seek(0)
    return Sample(
        content=upload.read(),
        content_type=content_type,
        filename=name,
        width=width,
        height=height,
        warning=warning,
    )


def _sniff(head: bytes) -> list[str]:
    """The types the first bytes fit, best match first."""
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return []
    return list(dict.fromkeys(m.mime_type for m in matches if m.mime_type))


def ratio_warning(width: int, height: int) -> str:
    """Advice when an image is far from the 3:2 WhatsApp shows best; "" when it is close enough."""
    if not width or not height:
        return ""
    if abs(width / height - 1.5) <= 1.5 * RATIO_TOLERANCE:
        return ""
    return (
        f"The image is {width}×{height} px; WhatsApp shows header images best at 3:2 "
        f"(for example {width}×{round(width / 1.5)} px). It can still be submitted."
    )


class CappedUploadHandler(FileUploadHandler):
    """Stops receiving a file once it is larger than any sample may be, so it is never kept whole.

    Put first in request.upload_handlers: chunks under the cap pass on to Django's own handlers; past
    it the file is skipped and `request.too_large_uploads` names the field, for the form to report.
    """

    def __init__(self, request: object = None, *, limit: int = LARGEST) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0

    def new_file(self, field_name: str, *args: object, **kwargs: object) -> None:
        super().new_file(field_name, *args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            if self.request is not None:
                too_large = getattr(self.request, "too_large_uploads", set())
                too_large.add(self.field_name)
                self.request.too_large_uploads = too_large
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
