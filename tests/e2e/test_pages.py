"""End-to-end: the admin and kiosk pages in headless Chromium against the real service.

The fake camera shows a CelebA face; the tests check what the pages show and what the store
recorded, and leave screenshots in runs/e2e-screenshots/ for a person to look at."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from _e2e_support import KNOWN, OTHER

pytestmark = [pytest.mark.e2e, pytest.mark.data]

VIEWPORT = {"width": 1280, "height": 800}
NAME = "Zoë O'Brien"          # not ASCII, with a quote: goes through URLs and the page as text
SCARY = '<script>alert("x")</script><b>bold</b>'
DIALOGS: dict = {}             # page -> {"seen": [messages], "accept": answer to confirm()}
OUTSIDE: list = []             # requests the pages made to anywhere but the service


@pytest.fixture(autouse=True)
def pages_load_nothing_from_outside():
    OUTSIDE.clear()
    yield
    assert OUTSIDE == [], f"the pages requested URLs outside the service: {OUTSIDE}"


def expect():
    from playwright.sync_api import expect as _expect

    return _expect


def page_with_token(browser, service, key: str | None = None, token: str | None = None):
    """A fresh page; with key/token, the token is already in localStorage (asked once before)."""
    context = browser.new_context(viewport=VIEWPORT)
    # nothing may load from anywhere but the service (no CDN, no fonts, no trackers)
    context.on("request", lambda r: None if r.url.startswith((service.url + "/", "blob:", "data:"))
               else OUTSIDE.append(r.url))
    if key:
        context.add_init_script(f"localStorage.setItem({key!r}, {token!r})")
    page = context.new_page()
    DIALOGS[page] = {"seen": [], "accept": False}

    def on_dialog(dialog):
        state = DIALOGS[page]
        state["seen"].append(dialog.message)
        dialog.accept() if state["accept"] else dialog.dismiss()

    page.on("dialog", on_dialog)
    return page


def admin_page(browser, service):
    page = page_with_token(browser, service, "siamnet.adminToken", service.tokens["admin"])
    page.goto(service.url + "/admin")
    expect()(page.locator("#app")).to_be_visible()
    return page


def today() -> str:
    return datetime.now().astimezone().date().isoformat()


def test_wrong_token_and_refused_camera_show_clear_messages(launch, cameras, service, shot):
    browser = launch(cameras["stranger"])
    page = page_with_token(browser, service)
    page.goto(service.url + "/kiosk")
    page.fill("#token-input", "not-a-real-token")
    page.click("#token-form button[type=submit]")
    expect()(page.locator("#token-message")).to_contain_text("refused", timeout=10_000)
    expect()(page.locator("#scan")).to_be_hidden()
    shot(page, "01-kiosk-wrong-token")

    # the kiosk token is not an admin token
    page = page_with_token(browser, service)
    page.goto(service.url + "/admin")
    page.fill("#token-input", service.tokens["kiosk"])
    page.click("#token-form button[type=submit]")
    expect()(page.locator("#token-message")).to_contain_text("admin token", timeout=10_000)
    expect()(page.locator("#app")).to_be_hidden()
    shot(page, "02-admin-kiosk-token-refused")

    # a right token but the camera refused: the kiosk says so and how to fix it
    page = page_with_token(launch(cameras["stranger"], camera_allowed=False), service,
                           "siamnet.kioskToken", service.tokens["kiosk"])
    page.goto(service.url + "/kiosk")
    expect()(page.locator("#problem")).to_contain_text("camera was refused", timeout=10_000)
    shot(page, "02b-kiosk-camera-refused")


def test_enroll_check_in_attendance_and_delete(launch, cameras, celeba, service, api, shot):
    browser = launch(cameras["known"])
    ex = expect()

    # admin: sign in through the form, enroll from three uploaded photos
    admin = page_with_token(browser, service)
    admin.goto(service.url + "/admin")
    admin.fill("#token-input", service.tokens["admin"])
    admin.click("#token-form button[type=submit]")
    ex(admin.locator("#app")).to_be_visible(timeout=10_000)
    admin.fill("#enroll-name", NAME)
    admin.fill("#enroll-employee", "E-0042")
    admin.set_input_files("#enroll-files", [str(celeba / KNOWN[0] / f) for f in KNOWN[1]])
    ex(admin.locator("#enroll-thumbs .thumb")).to_have_count(3)
    admin.click("#enroll-submit")
    ex(admin.locator("#enroll-message")).to_have_text(re.compile(r"^Enrolled "), timeout=60_000)
    row = admin.locator("#people-table tbody tr", has_text=NAME)
    ex(row).to_have_count(1)
    ex(row.locator("td").nth(2)).to_have_text("3")
    shot(admin, "03-admin-enrolled")

    # kiosk: the camera shows the same person (another photo); the name appears in large type
    kiosk = page_with_token(browser, service, "siamnet.kioskToken", service.tokens["kiosk"])
    kiosk.goto(service.url + "/kiosk?kiosk=lobby")
    ex(kiosk.locator("#result-name")).to_have_text(NAME, timeout=45_000)
    ex(kiosk.locator("#result-detail")).to_contain_text("checked in")
    size = kiosk.eval_on_selector("#result-name", "e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 48, f"the name is shown at {size}px, not in large type"
    shot(kiosk, "04-kiosk-known")
    # standing there: later frames answer "cooldown" and record nothing new
    kiosk.wait_for_timeout(2500)
    ex(kiosk.locator("#result-name")).to_have_text(NAME)
    kiosk.close()

    # the store recorded exactly one event for the person, at that kiosk
    events = [e for e in api.get(f"/api/attendance?day={today()}") if e["name"] == NAME]
    assert len(events) == 1, events
    assert events[0]["decision"] == "known" and events[0]["kiosk"] == "lobby"
    assert events[0]["distance"] < 0.6

    # admin: today's table and the chart show it
    admin.click("#today-refresh")
    ex(admin.locator("#today-table tbody tr", has_text=NAME)).to_have_count(1)
    ex(admin.locator("#chart rect.bar.today")).to_have_attribute("data-people", "1")
    shot(admin, "05-admin-attendance")

    # the CSV download carries the event
    with admin.expect_download() as dl:
        admin.click("#csv-today")
    assert NAME in open(dl.value.path(), encoding="utf-8").read()

    # delete (confirmed) removes the person from the page and the store
    DIALOGS[admin]["accept"] = True
    row.get_by_role("button", name="Delete").click()
    ex(admin.locator("#people-table tbody tr", has_text=NAME)).to_have_count(0, timeout=10_000)
    assert all(p["name"] != NAME for p in api.get("/api/people"))
    shot(admin, "06-admin-deleted")
    assert len(DIALOGS[admin]["seen"]) == 1 and NAME in DIALOGS[admin]["seen"][0]


def test_unknown_face_then_enroll_from_the_camera(launch, cameras, service, api, shot):
    browser = launch(cameras["stranger"])
    ex = expect()
    kiosk = page_with_token(browser, service, "siamnet.kioskToken", service.tokens["kiosk"])
    kiosk.goto(service.url + "/kiosk")
    ex(kiosk.locator("#result-name")).to_have_text("unknown", timeout=45_000)
    shot(kiosk, "07-kiosk-unknown")
    events = api.get(f"/api/attendance?day={today()}")
    assert any(e["decision"] == "unknown" and e["person_id"] is None for e in events), events
    # the stranger stays in front of the kiosk: more frames, no more rows (one per cooldown)
    unknown = len([e for e in events if e["decision"] == "unknown"])
    kiosk.wait_for_timeout(3000)
    ex(kiosk.locator("#result-name")).to_have_text("unknown")
    kiosk.close()
    later = api.get(f"/api/attendance?day={today()}")
    assert len([e for e in later if e["decision"] == "unknown"]) == unknown, later

    # the admin enrolls the stranger from two camera frames; the kiosk then knows them
    admin = admin_page(browser, service)
    admin.click("#camera-start")
    ex(admin.locator("#camera-video")).to_be_visible()
    admin.wait_for_function("document.getElementById('camera-video').videoWidth > 0")
    for n in (1, 2):
        admin.click("#camera-capture")
        ex(admin.locator("#enroll-thumbs .thumb")).to_have_count(n)
    admin.fill("#enroll-name", "Camera Person")
    shot(admin, "08-admin-camera-captures")
    admin.click("#enroll-submit")
    ex(admin.locator("#enroll-message")).to_have_text(re.compile(r"^Enrolled "), timeout=60_000)
    ex(admin.locator("#people-table tbody tr", has_text="Camera Person").locator("td").nth(2)).to_have_text("2")
    kiosk = page_with_token(browser, service, "siamnet.kioskToken", service.tokens["kiosk"])
    kiosk.goto(service.url + "/kiosk")
    ex(kiosk.locator("#result-name")).to_have_text("Camera Person", timeout=45_000)
    shot(kiosk, "09-kiosk-camera-enrolled")


def test_names_and_errors_show_as_text(launch, cameras, celeba, service, api, shot, tmp_path):
    api.enroll(SCARY, [celeba / OTHER[0] / f for f in OTHER[1]])
    browser = launch(cameras["stranger"])
    page = admin_page(browser, service)
    cell = page.locator("#people-table tbody td.name", has_text="<script>")
    expect()(cell).to_have_text(SCARY)
    assert page.locator("#people-table b").count() == 0
    # rename in place (the old name goes into the URL path: quotes, slashes, brackets)
    row = page.locator("#people-table tbody tr", has_text="<script>")
    row.get_by_role("button", name="Rename").click()
    field = page.get_by_label("new name for " + SCARY)
    field.fill("Renamed Person")
    field.press("Enter")
    expect()(page.locator("#people-table tbody td.name", has_text="Renamed Person")).to_have_count(1)
    names = [p["name"] for p in api.get("/api/people")]
    assert "Renamed Person" in names and SCARY not in names, names
    # an API error (a photo without a face) shows as text beside the form
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), (90, 90, 90)).save(blank)
    page.fill("#enroll-name", "Nobody")
    page.set_input_files("#enroll-files", str(blank))
    page.click("#enroll-submit")
    expect()(page.locator("#enroll-message")).to_contain_text("Not enrolled:", timeout=30_000)
    shot(page, "10-admin-escaped-and-error")
    # the refused photo is off the list, so enrolling again does not meet it again
    expect()(page.locator("#enroll-message")).to_contain_text("blank.png) was taken off the list")
    expect()(page.locator("#enroll-thumbs .thumb")).to_have_count(0)
    # six photos chosen: five kept, and the page says which one was not
    six = []
    for i in range(6):
        six.append(tmp_path / f"photo{i}.png")
        Image.new("RGB", (60, 60), (40 * i, 90, 90)).save(six[-1])
    page.set_input_files("#enroll-files", [str(p) for p in six])
    expect()(page.locator("#enroll-thumbs .thumb")).to_have_count(5)
    expect()(page.locator("#enroll-message")).to_contain_text("photo5.png was not added")
    assert DIALOGS[page]["seen"] == [], DIALOGS[page]["seen"]


def test_api_pages_render_from_local_files(launch, cameras, service, shot):
    """/docs (Swagger UI) and /redoc (ReDoc) draw the API with no CDN (the autouse fixture fails
    the test on any request outside the service), and the favicon is there."""
    browser = launch(cameras["stranger"])
    page = page_with_token(browser, service)
    page.goto(service.url + "/docs")
    expect()(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=30_000)
    expect()(page.locator(".swagger-ui")).to_contain_text("/api/checkin")
    shot(page, "11-docs-offline")
    page.goto(service.url + "/redoc")
    expect()(page.locator("h1").first).to_contain_text("siamnet attendance", timeout=30_000)
    assert page.request.get(service.url + "/favicon.ico").status == 200

