"""The Graph API stand-in: resumable uploads, whose handles are the media samples templates carry."""

from __future__ import annotations

import base64
import secrets

from ..models import Account, UploadSession
from .core import Call, invalid, required, route

UPLOAD_TYPES = {"application/pdf", "image/jpeg", "image/jpg", "image/png", "video/mp4"}


# --- Resumable upload -----------------------------------------------------------------------------


@route("app", "uploads", "POST")
def create_upload(call: Call, account: Account) -> dict:
    """POST /{app-id}/uploads?file_name&file_length&file_type: a new session id."""
    file_name = required(call, "file_name")
    try:
        file_length = int(call.params.get("file_length", ""))
    except (TypeError, ValueError):
        raise invalid("The parameter file_length must be a number of bytes.") from None
    if file_length <= 0:
        raise invalid("The parameter file_length must be positive.")
    file_type = required(call, "file_type")
    if file_type not in UPLOAD_TYPES:
        raise invalid(f"The parameter file_type must be one of {', '.join(sorted(UPLOAD_TYPES))}.")
    session = UploadSession.objects.create(
        account=account, file_name=file_name, file_length=file_length, file_type=file_type
    )
    return {"id": session.session_id}


@route("upload", "", "GET")
def get_upload(call: Call, session: UploadSession) -> dict:
    return {"id": session.session_id, "file_offset": session.file_offset}


@route("upload", "", "POST")
def continue_upload(call: Call, session: UploadSession) -> dict:
    """POST /upload:<id> with the file_offset header and raw bytes; the handle once all arrived.

    Django's server and gunicorn drop header names with underscores, so `file_offset` is also read
    as `file-offset` or from the query string; without any, the bytes continue where the session is.
    """
    raw = (
        call.request.headers.get("file_offset")
        or call.request.headers.get("file-offset")
        or call.request.GET.get("file_offset")
    )
    try:
        offset = int(raw) if raw is not None else session.file_offset
    except ValueError:
        raise invalid("The file_offset header must be a number.") from None
    if offset != session.file_offset:
        raise invalid(f"The file_offset must be {session.file_offset}, where the upload stands.")
    # Read the stream directly: request.body caps bodies at DATA_UPLOAD_MAX_MEMORY_SIZE.
    chunk = call.request.read(session.file_length - offset + 1)
    if offset + len(chunk) > session.file_length:
        raise invalid("More bytes were sent than file_length announced.")
    session.data = bytes(session.data) + chunk
    if session.file_offset == session.file_length and not session.handle:
        kind = base64.b64encode(session.file_type.encode()).decode()
        session.handle = f"4::{kind}:{secrets.token_urlsafe(32)}"
    session.save(update_fields=["data", "handle"])
    if session.handle:
        return {"h": session.handle}
    return {"id": session.session_id, "file_offset": session.file_offset}
