"""Take your data with you: exports and imports over REST.

* ``POST /api/v1/exports`` starts writing the account's export (202, the job);
* ``GET /api/v1/data-jobs`` lists the latest exports and imports, ``GET
  /api/v1/data-jobs/{id}`` one, with progress (``done`` of ``total``) and what an
  import did (``summary``);
* ``GET /api/v1/exports/{id}/file`` downloads a ready export once, only in the session
  that started it (the id is no secret: a link that leaks is useless to anyone else),
  and only from the page's own origin (a cross-site navigation could otherwise spend
  the one download). The file is deleted as soon as the download ends;
* ``POST /api/v1/imports?format=sms-backup|vcard[&line={id}]`` with the file as the
  raw body (streamed to disk, at most 1 GiB) imports it into one of the account's
  verified lines (default: the account's own number's), in the background.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from server.api.common import id_param, json_response, services
from server.auth import web as auth
from server.errors import BadRequest, Conflict, NotFound, PayloadTooLarge
from server.log import server_logger
from server.privacy.takeout.errors import Busy, FileTooLarge, NoDownload
from server.privacy.takeout.jobs import SMS_BACKUP, VCARD, Takeout
from server.privacy.takeout.sealedfile import SealedFileError
from server.storage.lines import Line

routes = web.RouteTableDef()

#: Bytes of a download written at a time.
_CHUNK = 256 * 1024

TAKEOUT: web.AppKey[Takeout] = web.AppKey("takeout", Takeout)

#: Media types that name an import's format when ``format`` is not given.
_FORMATS = {
    "application/xml": SMS_BACKUP,
    "text/xml": SMS_BACKUP,
    "text/vcard": VCARD,
    "text/x-vcard": VCARD,
    "text/directory": VCARD,
}


@routes.post("/api/v1/exports")
async def start_export(request: web.Request) -> web.Response:
    svc = services(request)
    principal = await auth.authenticate(request, svc)
    auth.require_verified(principal.account)
    try:
        job = await request.app[TAKEOUT].start_export(principal.account.id, principal.session)
    except Busy as exc:
        raise Conflict(str(exc), code="export_running") from None
    return json_response({"job": job.public(principal.session)}, status=202)


@routes.get("/api/v1/data-jobs")
async def list_jobs(request: web.Request) -> web.Response:
    svc = services(request)
    principal = await auth.authenticate(request, svc)
    auth.require_verified(principal.account)
    jobs = await request.app[TAKEOUT].jobs.recent(principal.account.id)
    return json_response({"jobs": [j.public(principal.session) for j in jobs]})


@routes.get(r"/api/v1/data-jobs/{job_id}")
async def get_job(request: web.Request) -> web.Response:
    svc = services(request)
    principal = await auth.authenticate(request, svc)
    auth.require_verified(principal.account)
    job_id = id_param(request, "job_id")
    job = await request.app[TAKEOUT].jobs.get(principal.account.id, job_id)
    if job is None:
        raise NotFound()
    return json_response({"job": job.public(principal.session)})


@routes.get(r"/api/v1/exports/{job_id}/file")
async def download(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        raise NotFound()  # not from our page: the one download is not spent on it
    principal = await auth.authenticate(request, svc)
    auth.require_verified(principal.account)
    job_id = id_param(request, "job_id")
    takeout = request.app[TAKEOUT]
    try:
        found = await takeout.open_download(principal.account.id, job_id, principal.session)
    except NoDownload:
        raise NotFound(
            "This export is not available: it was downloaded already, has expired, or was "
            "started in another session.",
            code="export_unavailable",
        ) from None
    try:
        resp = web.StreamResponse(
            headers={
                "Content-Type": "application/zip",
                "Content-Disposition": f'attachment; filename="ferry-export-{job_id}.zip"',
            }
        )
        resp.content_length = found.size
        await resp.prepare(request)
        try:
            while chunk := await asyncio.to_thread(found.file.read, _CHUNK):
                await resp.write(chunk)
        except SealedFileError:
            # Tampered with on disk: the client gets fewer bytes than announced and
            # knows the file is incomplete; nothing of it is trusted here.
            server_logger.warning("export %d does not open; its download was cut", job_id)
            if request.transport is not None:
                request.transport.close()
            return resp
        await resp.write_eof()
        return resp
    finally:
        await asyncio.to_thread(found.file.close)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"


async def _import_line(request: web.Request, account_id: int, own_phone: str) -> Line:
    svc = services(request)
    lines = [line for line in await svc.lines.for_account(account_id) if line.verified]
    if "line" in request.query:
        wanted = request.query["line"]
        found = next((line for line in lines if str(line.id) == wanted), None)
    else:
        found = next((line for line in lines if line.number == own_phone), None) or next(
            iter(lines), None
        )
    if found is None:
        raise BadRequest("Choose one of your verified numbers to import into.", code="invalid_line")
    return found


@routes.post("/api/v1/imports")
async def start_import(request: web.Request) -> web.Response:
    svc = services(request)
    principal = await auth.authenticate(request, svc)
    account = auth.require_verified(principal.account)
    fmt = request.query.get("format") or _FORMATS.get(request.content_type)
    if fmt not in (SMS_BACKUP, VCARD):
        raise BadRequest(
            "Say which file this is: format=sms-backup (an SMS Backup & Restore XML file) "
            "or format=vcard.",
            code="invalid_format",
        )
    line = await _import_line(request, account.id, account.phone)
    try:
        job = await request.app[TAKEOUT].receive_import(
            account.id,
            principal.session,
            fmt,
            line,
            request.content.iter_chunked(64 * 1024),
            request.content_length,
        )
    except FileTooLarge:
        limit = request.app[TAKEOUT].max_import_bytes
        raise PayloadTooLarge(
            f"The file is larger than an import may be ({_size(limit)})."
        ) from None
    except Busy as exc:
        raise Conflict(str(exc), code="import_running") from None
    return json_response({"job": job.public(principal.session)}, status=202)
