"""Each visitor's own models: what they train or load, keyed by their Gradio session.

The bundled models are shared and read-only (`webapp.registry`); a visitor's models live here
and nowhere else, so no visitor can change what another one sees. Memory stays bounded: a
session idle for `idle_seconds` is dropped (and at once when its page closes), and the
parameter bytes of one session and of all sessions together are capped, the least recently
used models going first.
"""
import os
import threading
import time
from collections import OrderedDict


def _env_number(name, default):
    return float(os.environ.get(name) or default)


IDLE_SECONDS = _env_number("DEEPGEN_SESSION_IDLE", 30 * 60)
SESSION_MB = _env_number("DEEPGEN_SESSION_MB", 64)
TOTAL_MB = _env_number("DEEPGEN_SESSIONS_MB", 1024)
SWEEP_SECONDS = 60


class TooLarge(ValueError):
    """A model bigger than one visitor's share of memory."""


def model_bytes(model):
    """Bytes held by a model's parameters and buffers."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


class SessionStore:
    """Models by (session, slot), least recently used first, with idle expiry and byte caps."""

    def __init__(self, idle_seconds=IDLE_SECONDS, session_bytes=SESSION_MB * 2**20,
                 total_bytes=TOTAL_MB * 2**20, clock=time.monotonic):
        self.idle_seconds, self.session_bytes, self.total_bytes = idle_seconds, session_bytes, total_bytes
        self._clock = clock
        self._models = OrderedDict()   # (session, slot) -> (model, bytes)
        self._seen = {}                # session -> clock of its last use
        self._lock = threading.Lock()
        self._last_sweep = clock()

    def get(self, session, slot):
        """The session's own model for `slot`, or None."""
        with self._lock:
            self._sweep_now_and_then()
            if session not in self._seen:
                return None
            self._seen[session] = self._clock()      # any use keeps the session alive
            entry = self._models.get((session, slot))
            if entry is None:
                return None
            self._models.move_to_end((session, slot))
            return entry[0]

    def put(self, session, slot, model):
        """Keep `model` as the session's `slot`; older models make room (TooLarge if it cannot fit)."""
        size = model_bytes(model)
        limit = min(self.session_bytes, self.total_bytes)
        if size > limit:
            raise TooLarge(f"This model needs {size / 2**20:.0f} MB, more than the {limit / 2**20:.0f} MB "
                           "a visitor's models may use here.")
        key = (session, slot)
        with self._lock:
            self._models.pop(key, None)
            self._models[key] = (model, size)
            self._seen[session] = self._clock()
            self._evict(lambda k: k[0] == session, self.session_bytes, keep=key)
            self._evict(lambda k: True, self.total_bytes, keep=key)

    def _evict(self, selects, cap, keep):
        keys = [k for k in self._models if selects(k)]
        used = sum(self._models[k][1] for k in keys)
        for k in keys:                           # least recently used first
            if used <= cap:
                break
            if k != keep:
                used -= self._models.pop(k)[1]
        self._forget_empty()

    def _forget_empty(self):
        live = {s for s, _ in self._models}
        for session in [s for s in self._seen if s not in live]:
            del self._seen[session]

    def slots(self, session):
        """{slot: model} the session holds (no use recorded)."""
        with self._lock:
            return {slot: m for (s, slot), (m, _) in self._models.items() if s == session}

    def clear(self, session):
        """Drop everything the session holds; returns how many models went."""
        with self._lock:
            keys = [k for k in self._models if k[0] == session]
            for k in keys:
                del self._models[k]
            self._seen.pop(session, None)
            return len(keys)

    def sweep(self):
        """Drop the sessions idle for longer than `idle_seconds`; returns how many went."""
        with self._lock:
            return self._sweep()

    def _sweep(self):
        now = self._clock()
        self._last_sweep = now
        idle = {s for s, seen in self._seen.items() if now - seen > self.idle_seconds}
        for k in [k for k in self._models if k[0] in idle]:
            del self._models[k]
        self._forget_empty()
        return len(idle)

    def _sweep_now_and_then(self):
        if self._clock() - self._last_sweep > SWEEP_SECONDS:
            self._sweep()

    def usage(self):
        """(sessions holding models, models, bytes)."""
        with self._lock:
            return len(self._seen), len(self._models), sum(size for _, size in self._models.values())

    def clear_all(self):
        with self._lock:
            self._models.clear()
            self._seen.clear()


def start_sweeper(store, every=SWEEP_SECONDS, also=()):
    """A daemon thread that sweeps `store` (and calls each of `also`) every `every` seconds, so
    idle sessions go even when nobody calls the app."""
    def loop():
        while True:
            time.sleep(every)
            store.sweep()
            for fn in also:
                try:
                    fn()
                except Exception:  # noqa: BLE001 - housekeeping must never stop
                    pass
    thread = threading.Thread(target=loop, name="session-sweeper", daemon=True)
    thread.start()
    return thread
