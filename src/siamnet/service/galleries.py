"""``/v1/galleries/{gallery}/…``: the gallery operations over HTTP, for any bundled or
configured model (faces, characters, signatures, questions).

A gallery is a named SQLite store in ``<data>/galleries/<gallery>.db`` whose model is fixed
when it is created (the first enrollment names it); ``attendance`` is the service's own face
gallery.  Every route needs the admin token.  Image kinds take uploaded files (``examples`` /
``input``), text kinds form fields of text (``texts`` / ``text``); errors are 4xx JSON bodies
``{"error": ...}`` naming the input, and a refused request changes nothing.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel

from siamnet.errors import DataError, ModelError
from siamnet.gallery.gallery import MODEL_SETTING

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ATTENDANCE = "attendance"


class RenameBody(BaseModel):
    name: str


def _same_model(g, model: str | None) -> bool:
    """Whether ``model`` (a name or path; None: any) is the model gallery ``g`` uses."""
    if model in (None, "", g.model.name, g.model.source):
        return True
    from siamnet.models import shared_model

    return shared_model(model).source == g.model.source


class GalleryBook:
    """The service's galleries: opened once, kept open, each with its model."""

    def __init__(self, svc):
        self.svc = svc
        self.folder = Path(svc.settings.data) / "galleries"
        self._open: dict[str, object] = {}
        self._lock = threading.Lock()

    def _path(self, name: str) -> Path:
        if not isinstance(name, str) or not NAME.match(name):
            raise DataError(f"gallery {name!r}: a gallery name is 1-64 of a-z, 0-9, '_' and '-', "
                            f"starting with a letter or digit")
        return self.folder / f"{name}.db"

    def names(self) -> list[str]:
        found = sorted(p.stem for p in self.folder.glob("*.db")) if self.folder.is_dir() else []
        return [ATTENDANCE] + [n for n in found if NAME.match(n) and n != ATTENDANCE]

    def get(self, name: str, model: str | None = None, create: bool = False):
        """The open gallery ``name``; ``create`` (with ``model``) makes a missing one."""
        from siamnet.gallery import Gallery
        from siamnet.gallery.store import open_store

        if name == ATTENDANCE:
            if not _same_model(self.svc.gallery, model):
                raise DataError(f"gallery {name!r} uses model {self.svc.gallery.model.name}, not {model}")
            return self.svc.gallery
        path = self._path(name)
        with self._lock:
            g = self._open.get(name)
            if g is not None:
                if not _same_model(g, model):
                    raise DataError(f"gallery {name!r} uses model {g.model.name}, not {model}")
                return g
            if not path.is_file():
                if not create:
                    raise LookupError(f"no gallery {name!r} (enroll a first subject with a model to create it)")
                if not model:
                    raise DataError(f"gallery {name!r} is new: give the model its subjects are enrolled with "
                                    f"(form field 'model', e.g. omniglot, questions, signature)")
                from siamnet.models import shared_model

                shared_model(model)  # an unknown model is refused before any file is made
                self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            store = open_store(path, keep_photos=False)
            try:
                stored = store.get_setting(MODEL_SETTING)
                if stored is None:
                    from siamnet.models import shared_model

                    stored = shared_model(model).source
                    store.set_setting(MODEL_SETTING, stored)
                g = Gallery(store, model=stored)
                if not _same_model(g, model):
                    raise DataError(f"gallery {name!r} uses model {g.model.name}, not {model}")
            except BaseException:
                store.close()
                raise
            self._open[name] = g
            return g

    def close(self) -> None:
        with self._lock:
            for g in self._open.values():
                g.store.close()
            self._open.clear()


def _answer(g, x) -> dict:
    return jsonable_encoder({"gallery_model": g.model.name, **x})


def make_router(svc, admin, api_error) -> APIRouter:
    """The /v1 routes over ``svc`` (the attendance Service), guarded by ``admin``."""
    book = GalleryBook(svc)
    svc.galleries = book
    router = APIRouter(prefix="/v1", tags=["galleries"])

    def gallery(name: str, model: str | None = None, create: bool = False):
        try:
            return book.get(name, model, create)
        except LookupError as exc:
            raise api_error(404, str(exc)) from None

    async def examples_of(g, files: list[UploadFile] | None, texts: list[str] | None, field: str) -> list:
        """The request's examples in the form the gallery's model takes: decoded images (any
        image kind) or texts."""
        kind = g.model.kind
        if kind.takes_text:
            if files:
                raise DataError(f"{field}: gallery model {g.model.name} takes text; send form fields "
                                f"'texts', not files")
            if not texts:
                raise DataError(f"texts: give 1 to 5 texts for model {g.model.name}")
            return list(texts)
        if texts:
            raise DataError(f"texts: gallery model {g.model.name} takes image files ('{field}'), not text")
        uploads = await svc.read_uploads(files or [], field)
        return [svc.decode(u) for u in uploads]

    @router.get("/galleries")
    def list_galleries(who=Depends(admin)):
        out = []
        for name in book.names():
            try:
                g = gallery(name)
            except (DataError, ModelError) as exc:
                out.append({"name": name, "error": str(exc)})
                continue
            out.append({"name": name, "model": g.model.name, "kind": g.model.kind.name, "subjects": len(g)})
        return out

    @router.post("/galleries/{name}/subjects", status_code=201)
    async def enroll(name: str, subject: str = Form(..., description="the subject's name"),
                     model: str | None = Form(None, description="the model (needed when the gallery is new)"),
                     examples: list[UploadFile] | None = File(None), texts: list[str] | None = Form(None),
                     allow_duplicate: bool = Form(False), who=Depends(admin)):
        g = gallery(name, model, create=True)
        xs = await examples_of(g, examples, texts, "examples")
        person = await svc.face_work(lambda: g.enroll(subject, xs, actor=who.actor, allow_duplicate=allow_duplicate))
        return _answer(g, {"enrolled": person.to_dict()})

    @router.post("/galleries/{name}/subjects/{subject}/examples")
    async def add_examples(name: str, subject: str, examples: list[UploadFile] | None = File(None),
                           texts: list[str] | None = Form(None), who=Depends(admin)):
        g = gallery(name)
        xs = await examples_of(g, examples, texts, "examples")
        person = await svc.face_work(lambda: g.add_examples(subject, xs, actor=who.actor))
        return _answer(g, {"subject": person.to_dict()})

    @router.get("/galleries/{name}/subjects")
    def people(name: str, who=Depends(admin)):
        g = gallery(name)
        return _answer(g, {"subjects": [p.to_dict() for p in g.people()]})

    @router.patch("/galleries/{name}/subjects/{subject}")
    def rename(name: str, subject: str, body: RenameBody, who=Depends(admin)):
        g = gallery(name)
        return _answer(g, {"subject": g.rename(subject, body.name, actor=who.actor).to_dict()})

    @router.delete("/galleries/{name}/subjects/{subject}", status_code=204)
    def delete(name: str, subject: str, who=Depends(admin)):
        gallery(name).delete(subject, actor=who.actor)

    @router.post("/galleries/{name}/identify")
    async def identify(name: str, input: list[UploadFile] | None = File(None), texts: list[str] | None = Form(None),
                       top: int = Form(1, ge=1, le=100), who=Depends(admin)):
        g = gallery(name)
        xs = await examples_of(g, input, texts, "input")

        def work():
            if g.model.kind.name == "face":
                return [{"faces": [r.to_dict() for r in g.identify(x, top=top)]} for x in xs]
            return [r.to_dict() for r in g.search_many(xs, top=top)]

        return _answer(g, {"threshold": g.threshold, "results": await svc.face_work(work)})

    @router.post("/galleries/{name}/verify")
    async def verify(name: str, subject: str = Form(...), input: list[UploadFile] | None = File(None),
                     texts: list[str] | None = Form(None), who=Depends(admin)):
        g = gallery(name)
        xs = await examples_of(g, input, texts, "input")
        if len(xs) != 1:
            raise DataError(f"verify: give exactly one input to check against {subject!r}, got {len(xs)}")
        res = await svc.face_work(lambda: g.verify(subject, xs[0]))
        return _answer(g, res.to_dict())

    return router
