"""Attachment downloads: ``GET /api/v1/attachments/{attachment_id}``.

Bytes come from a phone's MMS, so from anyone who can text the user: they are served so
a browser can never run them. Only PNG, JPEG, GIF and WebP are shown inline, with their
own type; everything else (SVG and HTML included) is ``application/octet-stream`` and a
download. Every answer carries ``nosniff`` and a sandboxing CSP. An id's content never
changes, so the browser may keep it (privately) for good.
"""

from __future__ import annotations

import mimetypes
from urllib.parse import quote

from aiohttp import web

from server.api.common import id_param, services
from server.auth.web import verified_account
from server.errors import NotFound
from server.log import server_logger
from server.oauth.guard import thread_limit
from server.storage.attachments import AttachmentFile, Unreadable

routes = web.RouteTableDef()

#: Served inline with their own media type; nothing else ever is.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=31536000, immutable",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@routes.get(r"/api/v1/attachments/{attachment_id}")
async def download(request: web.Request) -> web.Response:
    svc = services(request)
    account = await verified_account(request, svc)
    attachment_id = id_param(request, "attachment_id")
    try:
        found = await svc.attachments.open(account.id, attachment_id, threads=thread_limit(request))
    except Unreadable:
        # Its sealed bytes do not match its row: moved or tampered with in the database.
        server_logger.warning("attachment %d does not open; answered not found", attachment_id)
        raise NotFound() from None
    except LookupError:
        raise NotFound() from None
    inline = found.mime in INLINE_TYPES and request.query.get("download") != "1"
    return web.Response(
        body=found.data,
        content_type=found.mime if found.mime in INLINE_TYPES else "application/octet-stream",
        headers={**_HEADERS, "Content-Disposition": disposition(found, attachment_id, inline)},
    )


def disposition(found: AttachmentFile, attachment_id: int, inline: bool) -> str:
    """``inline`` or ``attachment``, with the file name RFC 5987-encoded (a download
    without a name gets ``attachment-<id>`` and an extension for its type)."""
    name = found.name
    if inline:
        return "inline" if name is None else f"inline; filename*=UTF-8''{quote(name, safe='')}"
    if name is None:
        name = f"attachment-{attachment_id}{mimetypes.guess_extension(found.mime) or ''}"
    return f"attachment; filename*=UTF-8''{quote(name, safe='')}"
