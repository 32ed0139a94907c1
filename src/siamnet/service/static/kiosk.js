// Attendance kiosk: ask once for the kiosk token, open the camera, send about one frame a second
// to POST /api/checkin and show who was seen. Plain browser JavaScript, no libraries; every piece
// of text from the server is put on the page with textContent, never parsed as HTML.
"use strict";

(function () {
  const TOKEN_KEY = "siamnet.kioskToken";
  const INTERVAL_MS = 1000;      // one frame about every second
  const SHOW_MS = 5000;          // how long a result stays before "Look at the camera" again
  const JPEG_QUALITY = 0.85;
  const MAX_SIDE = 960;          // frames are scaled down to this before upload

  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const kiosk = params.get("kiosk") || "";

  let token = localStorage.getItem(TOKEN_KEY) || "";
  let stream = null;
  let timer = null;
  let busy = false;
  let resultUntil = 0;
  let stopped = false;

  // ---- small helpers -------------------------------------------------------------------------

  function pad(n) { return String(n).padStart(2, "0"); }
  function hhmmss(d) { return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()); }

  function tick() {
    const now = new Date();
    $("clock").textContent = now.toLocaleDateString(undefined, { weekday: "long", day: "numeric", month: "long" })
      + "  " + hhmmss(now);
  }

  // The server answers errors as {"error": "..."} (FastAPI's own as {"detail": ...}); anything
  // else (an HTML error page from a proxy, say) is reduced to its status line, never shown raw.
  async function errorText(resp) {
    let text = "";
    try {
      const type = resp.headers.get("content-type") || "";
      if (type.includes("json")) {
        const body = await resp.json();
        if (body && typeof body.error === "string") text = body.error;
        else if (body && body.detail !== undefined) text = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
      }
    } catch (e) { /* fall through to the status line */ }
    return text || ("HTTP " + resp.status + (resp.statusText ? " " + resp.statusText : ""));
  }

  function showProblem(text) {
    const p = $("problem");
    p.textContent = text;
    p.hidden = !text;
  }

  function setScanState(text) { $("scan-state").textContent = text; }

  function showResult(kind, name, detail) {
    const box = $("result");
    box.className = "result " + kind;
    $("result-name").textContent = name;
    $("result-detail").textContent = detail || "";
    resultUntil = kind === "idle" ? 0 : Date.now() + SHOW_MS;
  }

  function idleIfDue() {
    if (resultUntil && Date.now() > resultUntil) showResult("idle", "Look at the camera", "");
  }

  // ---- token ---------------------------------------------------------------------------------

  function askToken(message) {
    stopScanning();
    $("scan").hidden = true;
    $("preview").hidden = true;
    $("forget-token").hidden = true;
    $("token-form").hidden = false;
    $("token-message").textContent = message || "";
    $("token-input").value = "";
    $("token-input").focus();
  }

  // Check a token against the server before keeping it: true, or the reason it was refused.
  async function checkToken(candidate) {
    let resp;
    try {
      resp = await fetch("/api/kiosk/whoami", { headers: { Authorization: "Bearer " + candidate } });
    } catch (e) {
      return "Cannot reach the attendance service (" + e.message + ").";
    }
    if (resp.status === 401 || resp.status === 403) {
      return "That token was refused: " + (await errorText(resp)) + ". Check the kiosk token printed by siamnet serve.";
    }
    if (!resp.ok && resp.status !== 404) return "The service answered: " + (await errorText(resp));
    return true;
  }

  $("token-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const candidate = $("token-input").value.trim();
    if (!candidate) return;
    $("token-message").textContent = "Checking…";
    const ok = await checkToken(candidate);
    if (ok !== true) { $("token-message").textContent = ok; return; }
    token = candidate;
    localStorage.setItem(TOKEN_KEY, token);
    start();
  });

  $("forget-token").addEventListener("click", () => {
    localStorage.removeItem(TOKEN_KEY);
    token = "";
    askToken("");
  });

  // ---- camera --------------------------------------------------------------------------------

  function cameraMessage(err) {
    const name = err && err.name;
    if (name === "NotAllowedError" || name === "SecurityError") {
      return "The camera was refused. Allow camera access for this page in the browser (the camera icon in the address bar), then reload.";
    }
    if (name === "NotFoundError" || name === "OverconstrainedError") return "No camera was found. Connect a camera and reload.";
    if (name === "NotReadableError") return "The camera is in use by another program, or could not be started. Close that program and reload.";
    return "The camera could not be opened: " + (err && err.message ? err.message : String(err));
  }

  async function openCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw { name: "SecurityError", message: "no camera API" };
    }
    return navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false });
  }

  // ---- scanning ------------------------------------------------------------------------------

  function grabFrame() {
    const video = $("video");
    const w = video.videoWidth, h = video.videoHeight;
    if (!w || !h) return Promise.resolve(null);
    const scale = Math.min(1, MAX_SIDE / Math.max(w, h));
    const canvas = $("frame");
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
  }

  function eventTime(answer) {
    const t = answer && answer.event && answer.event.time ? new Date(answer.event.time) : new Date();
    return isNaN(t.getTime()) ? new Date() : t;
  }

  async function scanOnce() {
    if (busy || stopped) return;
    busy = true;
    try {
      idleIfDue();
      const blob = await grabFrame();
      if (!blob) return;
      const form = new FormData();
      form.append("image", blob, "frame.jpg");
      if (kiosk) form.append("kiosk", kiosk);
      let resp;
      try {
        resp = await fetch("/api/checkin", { method: "POST", headers: { Authorization: "Bearer " + token }, body: form });
      } catch (e) {
        setScanState("offline");
        showProblem("Cannot reach the attendance service; retrying…");
        return;
      }
      if (resp.status === 401 || resp.status === 403) {
        const why = await errorText(resp);
        localStorage.removeItem(TOKEN_KEY);
        token = "";
        askToken("The kiosk token was refused (" + why + "). Enter the kiosk token again.");
        return;
      }
      if (!resp.ok) {
        setScanState("error");
        showProblem("Check-in failed: " + (await errorText(resp)));
        return;
      }
      showProblem("");
      setScanState("scanning");
      const answer = await resp.json();
      const when = hhmmss(eventTime(answer));
      if (answer.status === "recorded") {
        showResult("recorded", answer.name || "", "Welcome · checked in at " + when);
      } else if (answer.status === "cooldown") {
        // The person is still in front of the camera just after being recorded: keep the
        // welcome on screen rather than replacing it a second later.
        const box = $("result");
        if (box.classList.contains("recorded") && $("result-name").textContent === answer.name && Date.now() < resultUntil) {
          resultUntil = Date.now() + SHOW_MS;
        } else {
          showResult("cooldown", answer.name || "", "already checked in");
        }
      } else if (answer.status === "unknown") {
        showResult("unknown", "unknown", "Not recognised · " + when);
      }
      // "no_face": keep scanning quietly.
    } finally {
      busy = false;
    }
  }

  function stopScanning() {
    stopped = true;
    if (timer) { clearInterval(timer); timer = null; }
    if (stream) { stream.getTracks().forEach((t) => t.stop()); stream = null; }
  }

  async function start() {
    $("token-form").hidden = true;
    $("scan").hidden = false;
    $("forget-token").hidden = false;
    showResult("idle", "Starting camera…", "");
    showProblem("");
    try {
      stream = await openCamera();
    } catch (err) {
      showResult("idle", "Camera unavailable", "");
      showProblem(cameraMessage(err));
      return;
    }
    const video = $("video");
    video.srcObject = stream;
    $("preview").hidden = false;
    try { await video.play(); } catch (e) { /* autoplay of a muted video is allowed */ }
    showResult("idle", "Look at the camera", "");
    stopped = false;
    timer = setInterval(scanOnce, INTERVAL_MS);
  }

  // ---- go ------------------------------------------------------------------------------------

  $("kiosk-name").textContent = kiosk ? "kiosk: " + kiosk : "";
  tick();
  setInterval(tick, 1000);
  if (token) start(); else askToken("");
})();
