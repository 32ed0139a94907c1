"""Fixtures for the browser tests: Playwright driving Debian's headless Chromium against the real
service (``siamnet serve`` on a free loopback port with a temporary data folder), with Chromium's
fake camera fed from CelebA face crops of $SIAMNET_DATA."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from _e2e_support import (
    CHROMIUM_ARGS,
    KNOWN,
    OTHER,
    STRANGER,
    SCREENSHOTS,
    Service,
    camera_frame,
    find_chromium,
    need_playwright,
    skip_or_fail_browser,
    write_y4m,
)
from _support import skip_or_fail


@pytest.fixture(scope="session")
def celeba(data_root) -> Path:
    root = data_root / "celeba_faces"
    for ident, *files in (KNOWN, STRANGER, OTHER):
        names = [n for f in files for n in ([f] if isinstance(f, str) else f)]
        for name in names:
            if not (root / ident / name).is_file():
                skip_or_fail(f"{root / ident / name} is absent")
    return root


# Module scope, not session: while Playwright's sync API runs, this thread has a running asyncio
# loop, and later tests that call asyncio.run() would fail.
@pytest.fixture(scope="module")
def playwright_session():
    chromium = find_chromium()
    sync_playwright = need_playwright()
    manager = sync_playwright()
    try:
        pw = manager.start()
    except Exception as exc:  # the driver itself could not start
        skip_or_fail_browser(f"playwright could not start: {exc}")
    yield pw, chromium
    pw.stop()


@pytest.fixture(scope="session")
def cameras(celeba, tmp_path_factory) -> dict[str, Path]:
    """Fake-camera files: the known person (a photo not used to enroll) and a stranger."""
    folder = tmp_path_factory.mktemp("cameras")
    return {
        "known": write_y4m(camera_frame(celeba / KNOWN[0] / KNOWN[2]), folder / "known.y4m"),
        "stranger": write_y4m(camera_frame(celeba / STRANGER[0] / STRANGER[1]), folder / "stranger.y4m"),
    }


@pytest.fixture(scope="module")
def launch(playwright_session):
    """launch(camera_file, camera_allowed=True) -> a headless Chromium whose camera shows that file
    (or that refuses the camera); all are closed at the end."""
    pw, chromium = playwright_session
    browsers = []

    def _launch(camera: Path, camera_allowed: bool = True):
        args = [*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={camera}"]
        if not camera_allowed:  # as if the person at the kiosk had said no to the camera
            args = [a for a in args if a != "--use-fake-ui-for-media-stream"] + ["--deny-permission-prompts"]
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=args)
        browsers.append(browser)
        return browser

    yield _launch
    for b in browsers:
        b.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory, playwright_session):
    """The real service with an empty data folder (its first start makes the tokens)."""
    svc = Service(tmp_path_factory.mktemp("service") / "data", ["--log-level", "warning"])
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def shot():
    """shot(page, name): a full-page screenshot into runs/e2e-screenshots/ (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def _shot(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot


class Api:
    """A few direct calls to the service (to check what the store recorded)."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url, token

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None):
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers={"Authorization": f"Bearer {self.token}"})
        if content_type:
            req.add_header("Content-Type", content_type)
        with urllib.request.urlopen(req, timeout=60) as r:
            data = r.read()
        return json.loads(data) if data else None

    def get(self, path: str):
        return self.request("GET", path)

    def enroll(self, name: str, photos: list[Path]):
        boundary = "----siamnet-e2e-boundary"
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n'.encode()
                 + name.encode("utf-8") + b"\r\n"]
        for p in photos:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="images"; '
                         f'filename="{p.name}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
                         + p.read_bytes() + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("POST", "/api/people", body, f"multipart/form-data; boundary={boundary}")


@pytest.fixture(scope="module")
def api(service) -> Api:
    return Api(service.url, service.tokens["admin"])
