"""Helpers for the browser tests: find Chromium and Playwright (skip, or fail under
SIAMNET_REQUIRE_BROWSER=1), write a fake-camera file from a face photo, run the real service on a
free loopback port. A uniquely named module (tests/conftest.py imports ``_support``)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "runs" / "e2e-screenshots"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")

# CelebA identities (folder, enrollment photos, camera photo). Checked once with
# siamnet.faces.encode: the camera frame of KNOWN is 0.31-0.40 (dlib-resnet)
# from its three enrollment photos (the card's τ is 0.67); STRANGER's camera photo is > 0.88 from all of them.
KNOWN = ("7205", ["018774.jpg", "020711.jpg", "032425.jpg"], "034912.jpg")
STRANGER = ("7201", "001085.jpg")
OTHER = ("7203", ["007200.jpg"])

# Chromium flags: headless, no network of its own (nothing may load from the internet), and a
# fake camera that the browser grants without asking, fed from a file the test writes.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]


def skip_or_fail_browser(reason: str):
    if os.environ.get("SIAMNET_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " (SIAMNET_REQUIRE_BROWSER=1 turns this skip into a failure)")
    pytest.skip(reason)


def find_chromium() -> str:
    """Debian's Chromium, or the one $SIAMNET_CHROMIUM names; skips (or fails) when absent."""
    named = os.environ.get("SIAMNET_CHROMIUM")
    candidates = [named] if named else [*CHROMIUM_CANDIDATES, shutil.which("chromium") or ""]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    skip_or_fail_browser(f"no Chromium at {named} (SIAMNET_CHROMIUM)" if named else
                         "Chromium is not installed (apt-get install -y chromium)")


def need_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail_browser("the playwright package is not installed (pip install -e '.[e2e]')")
    return sync_playwright


def camera_frame(photo: Path, size=(640, 480), face_side: int = 400) -> Image.Image:
    """The photo scaled to face_side and centred on a plain grey frame (a person at a kiosk)."""
    w, h = size
    face = Image.open(photo).convert("RGB").resize((face_side, face_side), Image.BICUBIC)
    frame = Image.new("RGB", size, (118, 124, 130))
    frame.paste(face, ((w - face_side) // 2, (h - face_side) // 2))
    return frame


def write_y4m(frame: Image.Image, path: Path, frames: int = 2, fps: int = 10) -> Path:
    """A YUV4MPEG2 file (4:2:0, full-range BT.601 as in JPEG) of one still frame, for
    Chromium's --use-file-for-fake-video-capture (which loops it)."""
    rgb = np.asarray(frame.convert("RGB"), dtype=np.float32)
    h, w = rgb.shape[:2]
    if w % 2 or h % 2:
        raise ValueError(f"y4m 4:2:0 needs even sides, got {w}x{h}")
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128

    def plane(a):
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)

    def half(a):  # average each 2x2 block
        return (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]) / 4

    body = b"FRAME\n" + plane(y).tobytes() + plane(half(u)).tobytes() + plane(half(v)).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(frames):
            f.write(body)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_tokens(path: Path) -> dict[str, str]:
    """<data>/tokens.txt as {"admin": ..., "kiosk": ...}: lines "role: token" or "role=token"
    (blank lines and # comments skipped)."""
    tokens = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for sep in (":", "=", " ", "\t"):
            if sep in line:
                role, token = line.split(sep, 1)
                tokens.setdefault(role.strip().lower().split()[0], token.strip())
                break
    return tokens


class Service:
    """`siamnet serve` in a subprocess on a free loopback port with its own data folder."""

    def __init__(self, data: Path, extra_args=(), startup_s: float = 120):
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data.parent / f"{data.name}-serve.log"
        data.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        cmd = [sys.executable, "-m", "siamnet", "serve", "--data", str(data),
               "--host", "127.0.0.1", "--port", str(self.port), *extra_args]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        deadline = time.monotonic() + startup_s
        while True:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"siamnet serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"siamnet serve did not answer /health in {startup_s:.0f} s:\n{self.log()}")
            time.sleep(0.3)
        self.tokens = read_tokens(data / "tokens.txt")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
