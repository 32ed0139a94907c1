"""The attendance service: a FastAPI app over one store, one gallery and one loaded face model.

>>> from siamnet.service import Settings, create_app
>>> app = create_app(Settings(data="attendance-data"))     # uvicorn.run(app) / TestClient(app)

Routes are the table of docs/attendance-design.md (OpenAPI at ``/docs``).  Face work (decoding,
detection, encoding) runs on a small thread pool of its own so the event loop keeps answering;
store-only routes run on Starlette's thread pool.  Every error is a 4xx/5xx with a JSON body
``{"error": "..."}`` naming the input; tokens, encodings and photos never reach the logs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from siamnet.errors import SiamnetError
from siamnet.service import attendance as att
from siamnet.service.auth import Caller, TokenBook, bearer_token, ensure_tokens
from siamnet.service.checkin import DEFAULT_KIOSK, CheckinDesk
from siamnet.service.settings import Settings, check_store_file
from siamnet.service.uploads import (
    Upload,
    UploadError,
    check_filename,
    check_size,
    decode_image,
    strict_form_decoding,
)

log = logging.getLogger("siamnet.service")

STATIC = Path(str(resources.files("siamnet.service") / "static"))
#: how long /health trusts its last write check (each check is one tiny write transaction)
HEALTH_CHECK_SECONDS = 5.0


def docs_assets() -> Path | None:
    """The folder of Swagger UI's and ReDoc's scripts shipped by the ``fastapi-offline`` package
    (a dependency of the service extra), so /docs and /redoc need no CDN; None without it."""
    try:
        folder = Path(str(resources.files("fastapi_offline") / "static"))
    except (ImportError, ModuleNotFoundError, TypeError):
        return None
    needed = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js")
    return folder if all((folder / n).is_file() for n in needed) else None


class ApiError(Exception):
    """An answer other than 2xx: HTTP status and the message for ``{"error": ...}``."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class Rename(BaseModel):
    name: str


# -- the service object --------------------------------------------------------------------


class Service:
    """What the routes share: settings, store, gallery, check-in desk, tokens, face pool."""

    def __init__(self, settings: Settings, store=None):
        from siamnet.gallery import Gallery
        from siamnet.gallery.store import open_store

        self.settings = settings
        self.tz = settings.tz
        self.store = store if store is not None else open_store(
            settings.db_url, keep_photos=settings.keep_photos)
        try:
            self.gallery = Gallery(self.store, model=settings.model, threshold=settings.threshold)
            self.first_tokens = ensure_tokens(
                self.store, settings.tokens_file if settings.write_tokens_file else None)
            self.tokens = TokenBook.from_store(self.store)
        except BaseException:
            self.store.close()
            raise
        self.desk = CheckinDesk(self.gallery, self.store, settings.cooldown)
        self.pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="siamnet-face")
        self._warm = False
        self._warm_lock = threading.Lock()
        self._health: tuple[float, str | None] | None = None

    @property
    def model(self):
        return self.gallery.model

    async def face_work(self, fn, *args):
        """Run CPU-heavy face work on the face pool (the event loop stays free)."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def warm_up(self) -> None:
        """Before the service reports ready: on every face thread, build that thread's detector
        and aligner (dlib's are per thread) and run the encoder once, so no request pays for
        loading them.  Idempotent; blocks until every thread is ready."""
        with self._warm_lock:
            if self._warm:
                return
            n = self.settings.workers
            barrier = threading.Barrier(n, timeout=600)

            def one():
                try:
                    self._warm_thread()
                except BaseException:
                    barrier.abort()  # the other threads stop waiting
                    raise
                barrier.wait()  # hold this thread so that each task gets a thread of its own

            errors = []
            for f in [self.pool.submit(one) for _ in range(n)]:
                try:
                    f.result()
                except threading.BrokenBarrierError as exc:
                    errors.append(exc)
                except BaseException as exc:  # the real failure first
                    errors.insert(0, exc)
            if errors:
                raise errors[0]
            self._warm = True

    def _warm_thread(self) -> None:
        import numpy as np

        from siamnet.faces.api import largest_chip

        size = self.model.kind.chip
        largest_chip(np.full((96, 96, 3), 128, np.uint8), size)
        self.model.encode_items(np.zeros((1, size, size, 3), np.uint8))

    def write_problem(self) -> str | None:
        """Why the store cannot be written now (None: it can), checked at most every
        :data:`HEALTH_CHECK_SECONDS`."""
        now = time.monotonic()
        if self._health is None or now - self._health[0] > HEALTH_CHECK_SECONDS:
            self._health = (now, self.store.write_check())
        return self._health[1]

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        galleries = getattr(self, "galleries", None)
        if galleries is not None:
            galleries.close()
        self.store.close()

    # -- uploads ------------------------------------------------------------------------------

    async def read_uploads(self, files: list[UploadFile], field: str) -> list[Upload]:
        limit = self.settings.max_images
        if not files:
            raise ApiError(400, f"{field}: give 1 to {limit} image files")
        if len(files) > limit:
            raise ApiError(400, f"{field}: give 1 to {limit} image files, got {len(files)}")
        out = []
        for i, f in enumerate(files):
            label = f"{field}[{i + 1}]" if len(files) > 1 else field
            out.append(await self.read_upload(f, label))
        return out

    async def read_upload(self, f, field: str) -> Upload:
        if not hasattr(f, "read"):  # a plain form value where a file was expected
            raise ApiError(400, f"{field}: expected an uploaded image file, got a text field")
        name = check_filename(field, f.filename)
        data = await f.read(self.settings.max_upload_bytes + 1)
        upload = Upload(field, name, data)
        check_size(upload, self.settings.max_upload_bytes)
        return upload

    def decode(self, upload: Upload):
        return decode_image(upload, self.settings.max_pixels)

    # -- people -------------------------------------------------------------------------------

    def encode_uploads(self, name: str, uploads: list[Upload]):
        """(vectors, sources, photos) of the largest face of every upload — all of them decoded
        and encoded before anything is written (an upload without a face names itself)."""
        import numpy as np

        from siamnet.faces.api import NoFaceError, largest_chip

        chips = []
        for u in uploads:
            chip = largest_chip(self.decode(u), self.model.kind.chip)
            if chip is None:
                raise NoFaceError(f"{u.label}: no face detected; {name!r} was not changed")
            chips.append(chip)
        vectors = self.model.encode_items(np.stack(chips))
        photos = [u.data for u in uploads] if self.store.keep_photos else None
        return vectors, [u.source for u in uploads], photos

    def enroll(self, name: str, employee_id: str | None, uploads: list[Upload], caller: Caller,
               allow_duplicate: bool = False):
        """A new person; photos that match someone already enrolled are refused (409, naming
        who and how closely) unless ``allow_duplicate``."""
        vectors, sources, photos = self.encode_uploads(name, uploads)
        return self.gallery.enroll_encodings(name, vectors, sources, employee_id, actor=caller.actor,
                                             photos=photos, allow_duplicate=allow_duplicate)

    def add_photos(self, name: str, uploads: list[Upload], caller: Caller):
        vectors, sources, photos = self.encode_uploads(name, uploads)
        return self.store.add_encodings(name, self.model.name, vectors, sources, photos,
                                        actor=caller.actor)


# -- errors --------------------------------------------------------------------------------


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _status_for(exc: SiamnetError) -> int:
    from siamnet.faces.api import NoFaceError
    from siamnet.gallery.store import NotFound, StoreFault

    if isinstance(exc, (UploadError, StoreFault)):
        return exc.status
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, (NoFaceError, att.RangeError)):
        return 422
    if "already" in str(exc):
        return 409
    return 400


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path", "header")]
        where = ".".join(loc) or "request"
        msg = err.get("msg", "invalid")
        if err.get("type") == "missing":
            msg = "required"
        parts.append(f"{where}: {msg}")
    return "; ".join(parts) or "invalid request"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return _error(exc.status, exc.message, exc.headers)

    @app.exception_handler(SiamnetError)
    async def siamnet_error(request: Request, exc: SiamnetError):
        return _error(_status_for(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return _error(422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        return _error(exc.status_code, detail, getattr(exc, "headers", None))


def log_internal_error(method: str, path: str, exc: BaseException) -> None:
    """The one logging policy for a 500: the exception's type and place, never its message
    (messages of foreign exceptions may quote request data)."""
    where = "".join(traceback.format_tb(exc.__traceback__))
    log.error("internal error on %s %s: %s\n%s", method, path, type(exc).__name__, where)


class _TrackedSend:
    """An ASGI ``send`` that remembers whether the response has started (after which no error
    answer can be sent in its place)."""

    def __init__(self, send):
        self.send, self.started = send, False

    async def __call__(self, message):
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


class CatchAll:
    """The outermost layer: an exception no handler answered becomes a JSON 500, logged once by
    :func:`log_internal_error` and not raised on, so uvicorn never logs it a second time with
    its message and full traceback."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        tracked = _TrackedSend(send)
        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            log_internal_error(scope.get("method", "?"), scope.get("path", "?"), exc)
            if not tracked.started:
                await _error(500, "internal server error (see the service log)")(
                    scope, receive, send)


class BodyLimit:
    """Refuse a request body larger than ``limit`` bytes (413 JSON) — by its Content-Length before
    reading anything, or while streaming when it has none — so nothing huge is spooled."""

    def __init__(self, app, limit: int, tokens=None):
        self.app = app
        self.limit = limit
        self.tokens = tokens  # () -> TokenBook: /api/ requests without a known token are refused
        # before their body is read (the role is checked later, by the route)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if self.tokens is not None and scope.get("path", "").startswith("/api/"):
            token = bearer_token(headers.get(b"authorization", b"").decode("latin-1"))
            if token is None or self.tokens().caller(token) is None:
                message = ("missing bearer token (send 'Authorization: Bearer <token>')"
                           if token is None else "unknown or revoked token")
                return await _error(401, message, {"WWW-Authenticate": "Bearer"})(
                    scope, receive, send)
        length = headers.get(b"content-length")
        too_big = _error(413, f"request body is larger than {self.limit / 2**20:.0f} MB "
                              "(each image at most the upload limit)")
        if length is not None:
            try:
                if int(length) > self.limit:
                    return await too_big(scope, receive, send)
            except ValueError:
                return await _error(400, "Content-Length header is not a number")(scope, receive, send)
        seen = 0

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge()
            return message

        tracked = _TrackedSend(send)
        try:
            await self.app(scope, counted_receive, tracked)
        except _BodyTooLarge:
            if not tracked.started:
                await too_big(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


# -- the app -------------------------------------------------------------------------------


def create_app(settings: Settings | None = None, store=None) -> FastAPI:
    """The FastAPI app for ``settings`` (validated); opens the store (or uses ``store``), makes the
    first tokens when it has none (``app.state.first_tokens``), and loads the face model."""
    settings = (settings or Settings()).checked()
    if store is None and settings.store_kind == "sqlite":
        # the folder holds biometric data and tokens: its owner only, when we create it
        settings.data.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_store_file(Path(settings.db_url))
    strict_form_decoding()
    svc = Service(settings, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await asyncio.to_thread(svc.warm_up)  # every face thread ready before the first request
        yield
        svc.close()

    assets = docs_assets()
    app = FastAPI(title="siamnet attendance", version="1",
                  description="Enroll people from photos, check in at kiosks by face, read "
                              "attendance. Send `Authorization: Bearer <token>` (admin or kiosk).",
                  lifespan=lifespan,
                  # served below from local files, when the package that ships them is there
                  docs_url=None if assets else "/docs", redoc_url=None if assets else "/redoc")
    app.state.service = svc
    app.state.first_tokens = svc.first_tokens
    _install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes, tokens=lambda: svc.tokens)
    app.add_middleware(CatchAll)

    def caller(request: Request) -> Caller:
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            raise ApiError(401, "missing bearer token (send 'Authorization: Bearer <token>')",
                           {"WWW-Authenticate": "Bearer"})
        who = svc.tokens.caller(token)
        if who is None:
            raise ApiError(401, "unknown or revoked token", {"WWW-Authenticate": "Bearer"})
        return who

    def admin(who: Caller = Depends(caller)) -> Caller:
        if who.role != "admin":
            raise ApiError(403, f"this needs the admin token; a {who.role} token may only check in")
        return who

    def kiosk_or_admin(who: Caller = Depends(caller)) -> Caller:
        return who

    # -- pages --------------------------------------------------------------------------------

    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def page(name: str):
        path = STATIC / name
        if not path.is_file():
            raise ApiError(404, f"page {name} is not installed")
        return FileResponse(path, media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})

    @app.get("/", include_in_schema=False)
    def root():
        return RedirectResponse("/admin")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        path = STATIC / "favicon.ico"
        if not path.is_file():
            raise ApiError(404, "no favicon installed")
        return FileResponse(path, media_type="image/x-icon",
                            headers={"Cache-Control": "max-age=86400"})

    if assets is not None:
        from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html

        # ReDoc's script shows a logo from its CDN: make that an empty data: URL (the image
        # hides itself when it fails to load), so the page asks nothing of the outside
        redoc_js = (assets / "redoc.standalone.js").read_bytes().replace(
            b"https://cdn.redoc.ly/redoc/logo-mini.svg", b"data:,")

        @app.get("/docs-assets/redoc.standalone.js", include_in_schema=False)
        def redoc_script():
            return Response(redoc_js, media_type="text/javascript; charset=utf-8",
                            headers={"Cache-Control": "max-age=86400"})

        app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")

        @app.get("/docs", include_in_schema=False)
        def swagger_ui():
            return get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} - API",
                                       swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                       swagger_css_url="/docs-assets/swagger-ui.css",
                                       swagger_favicon_url="/favicon.ico",
                                       # no "valid" badge fetched from validator.swagger.io
                                       swagger_ui_parameters={"validatorUrl": None})

        @app.get("/redoc", include_in_schema=False)
        def redoc():
            return get_redoc_html(openapi_url=app.openapi_url, title=f"{app.title} - ReDoc",
                                  redoc_js_url="/docs-assets/redoc.standalone.js",
                                  redoc_favicon_url="/favicon.ico", with_google_fonts=False)

    @app.get("/kiosk", include_in_schema=False)
    def kiosk_page():
        return page("kiosk.html")

    @app.get("/admin", include_in_schema=False)
    def admin_page():
        return page("admin.html")

    # -- health and whoami ------------------------------------------------------------------------

    @app.get("/health", tags=["service"])
    def health():
        """200 when the store can be read and written; 503 (``status`` "unwritable" or
        "unreadable", ``error`` saying why) when it cannot."""
        from siamnet.gallery.store import StoreFault

        body = {"status": "ok", "people": None, "model": svc.model.name,
                "store": svc.store.kind, "writable": True}
        try:
            body["people"] = svc.store.count_people()
        except StoreFault as exc:
            return JSONResponse({**body, "status": "unreadable", "writable": False,
                                 "error": str(exc)}, status_code=503)
        why = svc.write_problem()
        if why is not None:
            return JSONResponse({**body, "status": "unwritable", "writable": False,
                                 "error": why}, status_code=503)
        return body

    @app.get("/api/kiosk/whoami", tags=["service"])
    def whoami(who: Caller = Depends(kiosk_or_admin)):
        return {"role": who.role, "model": svc.model.name, "threshold": svc.gallery.threshold,
                "cooldown": svc.settings.cooldown}

    # -- people -------------------------------------------------------------------------------

    @app.post("/api/people", status_code=201, tags=["people"])
    async def enroll(name: str = Form(..., description="the person's name (1-200 characters)"),
                     employee_id: str | None = Form(None),
                     images: list[UploadFile] = File(..., description="1-5 photos"),
                     allow_duplicate: bool = Form(False, description="enroll even when the photos match "
                                                                     "someone already enrolled"),
                     who: Caller = Depends(admin)):
        from siamnet.gallery.store import NotFound, clean_name, clean_text

        name = clean_name(name, "name")
        employee_id = clean_text(employee_id, "employee_id") if employee_id not in (None, "") else None
        uploads = await svc.read_uploads(images, "images")
        try:  # refuse a taken name before the face work (the store checks again on write)
            taken = await asyncio.to_thread(svc.store.person, name)
        except NotFound:
            taken = None
        if taken is not None:
            also = "" if taken.name == name else f" as {taken.name!r}"
            raise ApiError(409, f"name {name!r} is already enrolled{also} (names are compared "
                                "without regard to case; rename or delete that person first)")
        person = await svc.face_work(svc.enroll, name, employee_id, uploads, who, allow_duplicate)
        log.info("enrolled person %s from %d image(s)", person.id, person.encodings)
        return JSONResponse(jsonable_encoder(person.to_dict()), status_code=201)

    @app.post("/api/people/{name:path}/photos", tags=["people"])
    async def add_photos(name: str, images: list[UploadFile] = File(...),
                         who: Caller = Depends(admin)):
        uploads = await svc.read_uploads(images, "images")
        await asyncio.to_thread(svc.store.person, name)  # 404 before the face work
        person = await svc.face_work(svc.add_photos, name, uploads, who)
        return person.to_dict()

    @app.get("/api/people", tags=["people"])
    def people(who: Caller = Depends(admin)):
        return [p.to_dict() for p in svc.gallery.people()]

    # by id: for any name, whatever a client's URL handling would do to it
    @app.get("/api/person/{person_id}", tags=["people"])
    def person_by_id(person_id: int, who: Caller = Depends(admin)):
        return svc.store.person_by_id(person_id, svc.model.name).to_dict()

    @app.patch("/api/person/{person_id}", tags=["people"])
    def rename_by_id(person_id: int, body: Rename, who: Caller = Depends(admin)):
        person = svc.store.person_by_id(person_id)
        return svc.gallery.rename(person.name, body.name, actor=who.actor).to_dict()

    @app.delete("/api/person/{person_id}", status_code=204, tags=["people"])
    def delete_by_id(person_id: int, who: Caller = Depends(admin)):
        person = svc.store.person_by_id(person_id)
        svc.gallery.delete(person.name, actor=who.actor)
        return Response(status_code=204)

    @app.patch("/api/people/{name:path}", tags=["people"])
    def rename(name: str, body: Rename, who: Caller = Depends(admin)):
        return svc.gallery.rename(name, body.name, actor=who.actor).to_dict()

    @app.delete("/api/people/{name:path}", status_code=204, tags=["people"])
    def delete(name: str, who: Caller = Depends(admin)):
        svc.gallery.delete(name, actor=who.actor)
        return Response(status_code=204)

    # -- faces --------------------------------------------------------------------------------

    @app.post("/api/verify", tags=["faces"])
    async def verify(a: UploadFile = File(...), b: UploadFile = File(...),
                     who: Caller = Depends(admin)):
        from siamnet.faces.api import verify as verify_faces

        ua, ub = await svc.read_upload(a, "a"), await svc.read_upload(b, "b")

        def work():
            ra, rb = svc.decode(ua), svc.decode(ub)
            from siamnet.faces.api import encode

            ea = encode(ra, svc.model)
            eb = encode(rb, svc.model)
            for enc, up in ((ea, ua), (eb, ub)):
                if enc is None:
                    raise UploadError(f"{up.label}: no face detected", status=422)
            # 1:1 verification uses the card's verification τ; identification has its own (stricter)
            return verify_faces(ea, eb, model=svc.model, threshold=settings.threshold)

        return (await svc.face_work(work)).to_dict()

    @app.post("/api/identify", tags=["faces"])
    async def identify(image: UploadFile = File(...), who: Caller = Depends(admin)):
        upload = await svc.read_upload(image, "image")
        found = await svc.face_work(lambda: svc.gallery.identify(svc.decode(upload)))
        return [jsonable_encoder(f.to_dict()) for f in found]

    @app.post("/api/checkin", tags=["attendance"])
    async def checkin(image: UploadFile = File(...), kiosk: str | None = Form(None),
                      who: Caller = Depends(kiosk_or_admin)):
        from siamnet.gallery.store import clean_text

        place = clean_text(kiosk, "kiosk", max_length=100) if kiosk not in (None, "") else DEFAULT_KIOSK
        upload = await svc.read_upload(image, "image")
        answer = await svc.face_work(lambda: svc.desk.checkin(svc.decode(upload), place))
        event = answer.get("event")
        answer["event"] = None if event is None else att.event_dict(event, svc.tz)
        return answer

    # -- attendance ---------------------------------------------------------------------------

    def _range(day, start, end):
        return att.resolve_range(day, start, end, svc.tz)

    def _events(day, start, end, person, kiosk=None):
        first, last = _range(day, start, end)
        return first, last, att.events_between(svc.store, first, last, svc.tz, person, kiosk)

    @app.get("/api/attendance", tags=["attendance"])
    def attendance(day: str | None = None, start: str | None = Query(None, alias="from"),
                   end: str | None = Query(None, alias="to"), person: str | None = None,
                   kiosk: str | None = None, who: Caller = Depends(admin)):
        _, _, events = _events(day, start, end, person, kiosk)
        return [att.event_dict(e, svc.tz) for e in events]

    @app.get("/api/attendance.csv", tags=["attendance"])
    def attendance_csv(day: str | None = None, start: str | None = Query(None, alias="from"),
                       end: str | None = Query(None, alias="to"), person: str | None = None,
                       kiosk: str | None = None, who: Caller = Depends(admin)):
        first, last, events = _events(day, start, end, person, kiosk)
        svc.store.audit(who.actor, "attendance.export",
                        {"from": first.isoformat(), "to": last.isoformat(), "person": person,
                         "events": len(events)})
        name = f"attendance-{first}" + ("" if first == last else f"-to-{last}") + ".csv"
        return Response(att.events_csv(events, svc.tz), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.get("/api/attendance/daily", tags=["attendance"])
    def attendance_daily(day: str | None = None, start: str | None = Query(None, alias="from"),
                         end: str | None = Query(None, alias="to"), who: Caller = Depends(admin)):
        first, last, events = _events(day, start, end, None)
        return att.daily(events, first, last, svc.tz)

    # the gallery operations for any model (faces, characters, signatures, questions)
    from siamnet.service.galleries import make_router

    app.include_router(make_router(svc, admin, ApiError))

    @app.get("/api/audit", tags=["service"])
    def audit(limit: int = Query(100, ge=1, le=10_000), who: Caller = Depends(admin)):
        return [e.to_dict() for e in svc.store.audit_log(limit)]

    return app
