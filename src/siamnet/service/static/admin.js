// Attendance administration page: enroll (uploaded photos or camera frames), list / rename /
// delete people, today's check-ins, a 30-day chart and CSV downloads. Plain browser JavaScript,
// no libraries. Everything the server sends is put on the page with textContent or as SVG text
// nodes, never through innerHTML, so a name like "<script>" shows literally.
"use strict";

(function () {
  const TOKEN_KEY = "siamnet.adminToken";
  const MAX_IMAGES = 5;
  const CHART_DAYS = 30;
  const SVG_NS = "http://www.w3.org/2000/svg";

  const $ = (id) => document.getElementById(id);
  let token = localStorage.getItem(TOKEN_KEY) || "";
  let images = [];        // [{blob, label, url}] waiting to be enrolled
  let camera = null;      // MediaStream while the enroll camera is open

  // ---- helpers -------------------------------------------------------------------------------

  // el("td", {class: "name"}, "text", childNode, ...): text children become text nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function pad(n) { return String(n).padStart(2, "0"); }
  function isoDay(d) { return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()); }
  function daysAgo(n) { const d = new Date(); d.setHours(12, 0, 0, 0); d.setDate(d.getDate() - n); return d; }
  function clock(t) { const d = new Date(t); return isNaN(d) ? String(t) : pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()); }
  function shortDate(t) { const d = new Date(t); return isNaN(d) ? String(t || "") : isoDay(d) + " " + pad(d.getHours()) + ":" + pad(d.getMinutes()); }

  // An event's time of day as the service sees it (its --timezone): the local_time it sends,
  // else the UTC time shown in this browser's zone.
  function serviceClock(e) {
    const m = typeof e.local_time === "string" && e.local_time.match(/T(\d\d:\d\d:\d\d)/);
    return m ? m[1] : clock(e.time);
  }

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // The server's errors are {"error": "..."} (FastAPI's own {"detail": ...}); anything else,
  // e.g. an HTML page from a proxy, is reduced to its status line and never shown raw.
  async function errorText(resp) {
    let text = "";
    try {
      if ((resp.headers.get("content-type") || "").includes("json")) {
        const body = await resp.json();
        if (body && typeof body.error === "string") text = body.error;
        else if (body && body.detail !== undefined) {
          text = typeof body.detail === "string" ? body.detail
            : Array.isArray(body.detail) ? body.detail.map((d) => (d.loc ? d.loc.join(".") + ": " : "") + d.msg).join("; ")
            : JSON.stringify(body.detail);
        }
      }
    } catch (e) { /* use the status line */ }
    return text || ("HTTP " + resp.status + (resp.statusText ? " " + resp.statusText : ""));
  }

  // fetch with the admin token; JSON answers parsed; a refused token goes back to the sign-in form.
  async function api(method, path, body, raw) {
    const headers = { Authorization: "Bearer " + token };
    if (body && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, { method, headers, body });
    } catch (e) {
      throw new ApiError(0, "cannot reach the service (" + e.message + ")");
    }
    if (resp.status === 401 || resp.status === 403) {
      const why = await errorText(resp);
      signOut("The admin token was refused (" + why + "). Enter the admin token again.");
      throw new ApiError(resp.status, why);
    }
    if (!resp.ok) throw new ApiError(resp.status, await errorText(resp));
    if (raw) return resp;
    if (resp.status === 204) return null;
    return resp.json();
  }

  function banner(text) {
    const b = $("banner");
    b.textContent = text || "";
    b.hidden = !text;
  }

  function report(err, what) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return;
    banner(what + ": " + err.message);
  }

  // ---- sign in -------------------------------------------------------------------------------

  function signOut(message) {
    localStorage.removeItem(TOKEN_KEY);
    token = "";
    closeCamera();
    $("app").hidden = true;
    $("sign-out").hidden = true;
    $("token-form").hidden = false;
    $("token-message").textContent = message || "";
    $("token-input").value = "";
    $("token-input").focus();
  }

  $("token-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const candidate = $("token-input").value.trim();
    if (!candidate) return;
    $("token-message").textContent = "Checking…";
    let resp;
    try {
      resp = await fetch("/api/people", { headers: { Authorization: "Bearer " + candidate } });
    } catch (e) {
      $("token-message").textContent = "Cannot reach the service (" + e.message + ").";
      return;
    }
    if (resp.status === 401 || resp.status === 403) {
      $("token-message").textContent = "That token was refused: " + (await errorText(resp))
        + ". Use the admin token (not the kiosk token) printed by siamnet serve.";
      return;
    }
    if (!resp.ok) { $("token-message").textContent = "The service answered: " + (await errorText(resp)); return; }
    token = candidate;
    localStorage.setItem(TOKEN_KEY, token);
    showApp();
  });

  $("sign-out").addEventListener("click", () => signOut(""));

  function showApp() {
    $("token-form").hidden = true;
    $("app").hidden = false;
    $("sign-out").hidden = false;
    banner("");
    refreshAll();
  }

  function refreshAll() {
    loadPeople();
    loadToday();
    loadChart();
  }

  // Check-ins keep coming while the page is open: refresh the table and chart now and then.
  setInterval(() => {
    if (token && !$("app").hidden && !document.hidden) { loadToday(); loadChart(); }
  }, 30000);

  // ---- enroll --------------------------------------------------------------------------------

  function enrollMessage(text, isError) {
    const m = $("enroll-message");
    m.textContent = text || "";
    m.className = "message" + (isError ? " error" : "");
  }

  function drawThumbs() {
    const box = $("enroll-thumbs");
    box.replaceChildren();
    images.forEach((item, i) => {
      box.append(el("div", { class: "thumb" },
        el("img", { src: item.url, alt: item.label }),
        el("button", { type: "button", title: "remove", "aria-label": "remove " + item.label, onclick: () => removeImage(i) }, "×"),
        el("span", {}, item.label)));
    });
    $("camera-capture").disabled = images.length >= MAX_IMAGES;
  }

  function addImage(blob, label) {
    if (images.length >= MAX_IMAGES) {
      enrollMessage("At most " + MAX_IMAGES + " images per person.", true);
      return false;
    }
    images.push({ blob, label, url: URL.createObjectURL(blob) });
    drawThumbs();
    return true;
  }

  function removeImage(i) {
    URL.revokeObjectURL(images[i].url);
    images.splice(i, 1);
    drawThumbs();
    enrollMessage("");
  }

  function clearImages() {
    images.forEach((item) => URL.revokeObjectURL(item.url));
    images = [];
    drawThumbs();
  }

  $("enroll-files").addEventListener("change", (ev) => {
    enrollMessage("");
    const chosen = Array.from(ev.target.files);
    const room = MAX_IMAGES - images.length;
    chosen.slice(0, Math.max(0, room)).forEach((f) => addImage(f, f.name));
    if (chosen.length > room) {
      const left = chosen.slice(Math.max(0, room)).map((f) => f.name).join(", ");
      enrollMessage("At most " + MAX_IMAGES + " photos per person: " + left + (chosen.length - room === 1 ? " was" : " were")
        + " not added (remove a photo to add another).", true);
    }
    ev.target.value = "";
  });

  // The server names a refused photo "images[2] 'x.jpg': ..." (or "images 'x.jpg': ..." when
  // only one was sent): the index in the list sent, which is the index in `images`.
  function refusedImage(message) {
    const m = /^images(?:\[(\d+)\])? ['"]/.exec(message || "");
    if (!m) return -1;
    const i = m[1] ? Number(m[1]) - 1 : 0;
    return i >= 0 && i < images.length && (m[1] || images.length === 1) ? i : -1;
  }

  $("camera-start").addEventListener("click", async () => {
    enrollMessage("");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      enrollMessage("This browser offers no camera here (the camera needs https or localhost).", true);
      return;
    }
    try {
      camera = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false });
    } catch (err) {
      enrollMessage(err && (err.name === "NotAllowedError" || err.name === "SecurityError")
        ? "The camera was refused. Allow camera access for this page in the browser, or upload photos instead."
        : "The camera could not be opened: " + (err && err.message ? err.message : err), true);
      return;
    }
    const video = $("camera-video");
    video.srcObject = camera;
    video.hidden = false;
    $("camera-start").hidden = true;
    $("camera-capture").hidden = false;
    $("camera-stop").hidden = false;
    drawThumbs();
  });

  $("camera-capture").addEventListener("click", () => {
    const video = $("camera-video");
    if (!video.videoWidth) { enrollMessage("The camera has no picture yet; try again in a moment.", true); return; }
    const canvas = $("capture-canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    canvas.toBlob((blob) => {
      if (blob) addImage(blob, "camera " + (images.length + 1) + ".jpg");
    }, "image/jpeg", 0.92);
  });

  function closeCamera() {
    if (camera) camera.getTracks().forEach((t) => t.stop());
    camera = null;
    const video = $("camera-video");
    video.srcObject = null;
    video.hidden = true;
    $("camera-start").hidden = false;
    $("camera-capture").hidden = true;
    $("camera-stop").hidden = true;
  }
  $("camera-stop").addEventListener("click", closeCamera);

  $("enroll-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = $("enroll-name").value.trim();
    const employee = $("enroll-employee").value.trim();
    if (!name) { enrollMessage("Give the person's name.", true); return; }
    if (images.length < 1) { enrollMessage("Add 1 to " + MAX_IMAGES + " photos (upload or camera).", true); return; }
    const form = new FormData();
    form.append("name", name);
    if (employee) form.append("employee_id", employee);
    if ($("enroll-duplicate").checked) form.append("allow_duplicate", "true");
    images.forEach((item, i) => form.append("images", item.blob, item.blob.name || ("camera-" + (i + 1) + ".jpg")));
    $("enroll-submit").disabled = true;
    enrollMessage("Enrolling…");
    try {
      const person = await api("POST", "/api/people", form);
      enrollMessage("Enrolled " + person.name + " (" + person.encodings + " encoding" + (person.encodings === 1 ? "" : "s") + ").");
      $("enroll-name").value = "";
      $("enroll-employee").value = "";
      $("enroll-duplicate").checked = false;
      $("enroll-duplicate-row").hidden = true;
      clearImages();
      closeCamera();
      loadPeople();
    } catch (err) {
      if (!(err.status === 401 || err.status === 403)) {
        // drop the photo the server refused, so that enrolling again does not meet it again
        const bad = refusedImage(err.message);
        let tail = "";
        if (bad >= 0) {
          tail = " That photo (" + images[bad].label + ") was taken off the list; add another and enroll again.";
          removeImage(bad);
        }
        // the same face under a second name: say who it matches and offer the explicit override
        if (err.status === 409 && /matches .*already enrolled/.test(err.message)) {
          $("enroll-duplicate-row").hidden = false;
          tail = " If this is a different person, tick the box below and enroll again.";
        }
        enrollMessage("Not enrolled: " + err.message + tail, true);
      }
    } finally {
      $("enroll-submit").disabled = false;
    }
  });

  // ---- people --------------------------------------------------------------------------------

  async function loadPeople() {
    let people;
    try {
      people = await api("GET", "/api/people");
    } catch (err) { report(err, "Could not list people"); return; }
    people.sort((a, b) => a.name.localeCompare(b.name));
    $("people-count").textContent = "(" + people.length + ")";
    $("people-empty").hidden = people.length > 0;
    $("people-table").querySelector("tbody").replaceChildren(...people.map(personRow));
  }

  function personRow(p) {
    const row = el("tr", { "data-name": p.name });
    const nameCell = el("td", { class: "name", title: p.name }, p.name);
    const actions = el("td", { class: "actions" },
      el("button", { type: "button", class: "secondary small", onclick: () => startRename(row, nameCell, actions, p) }, "Rename"),
      el("button", { type: "button", class: "danger small", onclick: () => removePerson(p) }, "Delete"));
    row.append(nameCell, el("td", {}, p.employee_id || ""), el("td", { class: "num" }, p.encodings),
      el("td", { class: "num", title: shortDate(p.created) }, shortDate(p.created).slice(0, 10)), actions);
    return row;
  }

  function startRename(row, nameCell, actions, p) {
    const input = el("input", { value: p.name, "aria-label": "new name for " + p.name, maxlength: "200" });
    const save = async () => {
      const newName = input.value.trim();
      if (!newName || newName === p.name) { loadPeople(); return; }
      try {
        await api("PATCH", "/api/person/" + encodeURIComponent(p.id), { name: newName });
        banner("");
        loadPeople();
        loadToday();
      } catch (err) { report(err, "Could not rename " + p.name); }
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); save(); }
      if (e.key === "Escape") loadPeople();
    });
    nameCell.replaceChildren(input);
    actions.replaceChildren(
      el("button", { type: "button", class: "small", onclick: save }, "Save"),
      el("button", { type: "button", class: "secondary small", onclick: () => loadPeople() }, "Cancel"));
    input.focus();
    input.select();
  }

  async function removePerson(p) {
    if (!confirm("Delete " + p.name + " and all their face encodings? This cannot be undone.")) return;
    try {
      await api("DELETE", "/api/person/" + encodeURIComponent(p.id));
      banner("");
      loadPeople();
    } catch (err) { report(err, "Could not delete " + p.name); }
  }

  $("people-refresh").addEventListener("click", loadPeople);

  // ---- today's attendance --------------------------------------------------------------------

  async function loadToday() {
    const day = isoDay(new Date());
    $("today-date").textContent = day;
    let events;
    try {
      events = await api("GET", "/api/attendance");   // no day: today in the service's time zone
    } catch (err) { report(err, "Could not load today's attendance"); return; }
    if (events.length && typeof events[0].day === "string") $("today-date").textContent = events[0].day;
    events.sort((a, b) => String(b.time).localeCompare(String(a.time)));
    $("today-empty").hidden = events.length > 0;
    $("today-table").querySelector("tbody").replaceChildren(...events.map((e) => {
      const known = e.decision === "known" && e.name;
      return el("tr", { class: known ? "known" : "unknown" },
        el("td", { class: "num" }, serviceClock(e)),
        el("td", { class: "name" }, known ? e.name : "unknown"),
        el("td", {}, e.kiosk || ""),
        el("td", {}, e.decision || ""),
        el("td", { class: "num" }, typeof e.distance === "number" ? e.distance.toFixed(3) : ""));
    }));
  }

  $("today-refresh").addEventListener("click", () => { loadToday(); loadChart(); });

  // ---- chart ---------------------------------------------------------------------------------

  async function loadChart() {
    const from = isoDay(daysAgo(CHART_DAYS - 1)), to = isoDay(daysAgo(0));
    let rows;
    try {
      rows = await api("GET", "/api/attendance/daily?from=" + from + "&to=" + to);
    } catch (err) { report(err, "Could not load the daily chart"); return; }
    const byDay = new Map(rows.map((r) => [String(r.day), r]));
    const days = [];
    for (let i = CHART_DAYS - 1; i >= 0; i--) {
      const day = isoDay(daysAgo(i));
      const r = byDay.get(day);
      days.push({ day, people: r ? Number(r.people) || 0 : 0, events: r ? Number(r.events) || 0 : 0 });
    }
    drawChart(days);
  }

  function niceMax(v) {
    if (v <= 5) return 5;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function drawChart(days) {
    const W = 760, H = 250, left = 40, right = 10, top = 16, bottom = 36;
    const plotW = W - left - right, plotH = H - top - bottom;
    const max = niceMax(Math.max(0, ...days.map((d) => d.people)));
    const step = plotW / days.length, barW = Math.max(2, step * 0.7);
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img",
      "aria-label": "People checked in per day, last " + days.length + " days" });
    const ticks = 5;
    for (let i = 0; i <= ticks; i++) {
      const v = (max * i) / ticks, y = top + plotH - (v / max) * plotH;
      root.append(svg("line", { class: "grid", x1: left, x2: W - right, y1: y, y2: y }));
      root.append(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, Number.isInteger(v) ? v : v.toFixed(1)));
    }
    days.forEach((d, i) => {
      const h = (d.people / max) * plotH;
      const x = left + i * step + (step - barW) / 2, y = top + plotH - h;
      const bar = svg("rect", { class: "bar" + (i === days.length - 1 ? " today" : ""), x, y, width: barW, height: Math.max(h, 0),
        "data-day": d.day, "data-people": d.people });
      bar.append(svg("title", {}, d.day + ": " + d.people + " people, " + d.events + " check-ins"));
      root.append(bar);
      if (d.people > 0) root.append(svg("text", { class: "value", x: x + barW / 2, y: y - 3, "text-anchor": "middle" }, d.people));
      if (i % 5 === (days.length - 1) % 5) {
        root.append(svg("text", { x: x + barW / 2, y: H - bottom + 20, "text-anchor": "middle" }, d.day.slice(5)));
      }
    });
    root.append(svg("line", { class: "axis", x1: left, x2: W - right, y1: top + plotH, y2: top + plotH }));
    $("chart").replaceChildren(root);
  }

  // ---- CSV -----------------------------------------------------------------------------------

  // A plain link cannot carry the bearer token, so the click fetches the CSV with it and hands
  // the browser a download of the answer.
  function csvLink(id, range) {
    const link = $(id);
    const update = () => {
      const [from, to] = range();
      link.href = "/api/attendance.csv?from=" + from + "&to=" + to;
      link.setAttribute("download", "attendance-" + from + (from === to ? "" : "-to-" + to) + ".csv");
    };
    update();
    link.addEventListener("click", async (ev) => {
      ev.preventDefault();
      update();
      try {
        const resp = await api("GET", link.getAttribute("href"), null, true);
        const url = URL.createObjectURL(await resp.blob());
        const a = el("a", { href: url, download: link.getAttribute("download") });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      } catch (err) { report(err, "Could not download the CSV"); }
    });
  }
  csvLink("csv-today", () => { const d = isoDay(new Date()); return [d, d]; });
  csvLink("csv-month", () => [isoDay(daysAgo(CHART_DAYS - 1)), isoDay(daysAgo(0))]);

  // ---- go ------------------------------------------------------------------------------------

  drawThumbs();
  if (token) showApp(); else signOut("");
})();
