"""The attendance service (FastAPI): enroll, check in by face, read attendance.

``create_app(settings)`` builds the app (needs the ``service`` extra: ``pip install
'siamnet[service]'``); :class:`Settings` and the attendance queries import without it.
"""

from __future__ import annotations

from siamnet.service.settings import Settings

__all__ = ["Settings", "create_app"]


def create_app(settings: Settings | None = None, store=None):
    """The FastAPI app (see :func:`siamnet.service.app.create_app`)."""
    try:
        from siamnet.service.app import create_app as _create_app
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] in ("fastapi", "starlette", "uvicorn", "multipart",
                                                   "python_multipart", "pydantic"):
            from siamnet.errors import SiamnetError

            raise SiamnetError(f"the service needs {exc.name}, which is not installed: "
                               "pip install 'siamnet[service]'") from None
        raise
    return _create_app(settings, store)
