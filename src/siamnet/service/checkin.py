"""Check-in: the largest face in a kiosk photo → a recorded attendance event.

* no face → ``no_face`` (nothing recorded);
* nearest enrolled person not within τ → ``unknown``: an unknown event is recorded, unless the
  same stranger (within τ of the last unknown face recorded at this kiosk) was recorded there
  within the cooldown — someone unknown standing in front of the kiosk makes one row, not one
  per frame (``recorded`` says which);
* a known person already recorded at this kiosk within the cooldown → ``cooldown`` (nothing new:
  someone standing in front of the kiosk is recorded once);
* else → ``recorded`` (a known event).

The cooldown check and the write happen under one lock, so two simultaneous frames of the same
person at the same kiosk record one event.  The face work (detect, align, encode) runs before the
lock, on whichever pool thread calls :meth:`CheckinDesk.checkin`.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Callable

import numpy as np

from siamnet.gallery.store import Event

log = logging.getLogger("siamnet.service")

DEFAULT_KIOSK = "kiosk"
#: kiosks whose last unknown face is remembered (the oldest is forgotten past this)
MAX_KIOSKS_REMEMBERED = 1000


class CheckinDesk:
    def __init__(self, gallery, store, cooldown: float,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.gallery = gallery
        self.store = store
        self.cooldown = timedelta(seconds=float(cooldown))
        self.clock = clock
        self._lock = threading.Lock()
        # kiosk -> (encoding, Event) of the last unknown face recorded there
        self._last_unknown: dict[str, tuple[np.ndarray, Event]] = {}

    def largest_face(self, rgb: np.ndarray):
        """(box, encoding) of the largest face, or None."""
        from siamnet.faces.api import faces

        model = self.gallery.model
        found = faces(rgb, max_faces=1, chip_size=model.kind.chip)
        if not found:
            return None
        return found[0].box, model.encode_items(found[0].chip[None])[0]

    def checkin(self, rgb: np.ndarray, kiosk: str) -> dict:
        face = self.largest_face(rgb)
        model = self.gallery.model.name
        threshold = float(self.gallery.threshold)
        if face is None:
            return {"status": "no_face", "name": None, "distance": None, "threshold": threshold,
                    "event": None, "box": None, "kiosk": kiosk, "recorded": False}
        box, encoding = face
        who = self.gallery.identify_encoding(encoding)
        distance = None if who.distance is None else float(who.distance)
        answer = {"name": None, "distance": distance, "threshold": threshold,
                  "box": [box.left, box.top, box.right, box.bottom], "kiosk": kiosk}
        if not who.known:
            return self._unknown(answer, encoding, kiosk, distance, model, threshold)
        person_id = getattr(who, "person_id", None)
        if person_id is None:
            person_id = self.store.person(who.name).id
        with self._lock:
            now = self.clock()
            last = self.store.last_event(person_id, kiosk)
            if last is not None and now - last.time < self.cooldown:
                log.info("check-in at kiosk %r: person %s within cooldown", kiosk, person_id)
                return {**answer, "status": "cooldown", "name": who.name, "event": last,
                        "recorded": False}
            event = self.store.add_event(Event(
                id=None, time=now, kiosk=kiosk, person_id=person_id, name=who.name,
                distance=distance, decision="known", model=model))
        log.info("check-in at kiosk %r: person %s recorded (event %s)", kiosk, person_id, event.id)
        return {**answer, "status": "recorded", "name": who.name, "event": event, "recorded": True}

    def _unknown(self, answer: dict, encoding: np.ndarray, kiosk: str, distance, model: str,
                 threshold: float) -> dict:
        """An unknown face: recorded once per stranger, kiosk and cooldown."""
        face_model = self.gallery.model
        with self._lock:
            now = self.clock()
            seen = self._last_unknown.get(kiosk)
            if seen is not None and now - seen[1].time < self.cooldown and seen[1].model == model:
                same = float(np.min(face_model.distance(seen[0][None, :], encoding[None, :])))
                if same < threshold:
                    log.info("check-in at kiosk %r: the same unknown face within cooldown", kiosk)
                    return {**answer, "status": "unknown", "event": seen[1], "recorded": False}
            event = self.store.add_event(Event(
                id=None, time=now, kiosk=kiosk, person_id=None, name=None,
                distance=distance, decision="unknown", model=model))
            self._last_unknown.pop(kiosk, None)
            self._last_unknown[kiosk] = (np.asarray(encoding, np.float32).copy(), event)
            while len(self._last_unknown) > MAX_KIOSKS_REMEMBERED:
                self._last_unknown.pop(next(iter(self._last_unknown)))
        log.info("check-in at kiosk %r: unknown face (event %s)", kiosk, event.id)
        return {**answer, "status": "unknown", "event": event, "recorded": True}
