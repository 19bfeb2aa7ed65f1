"""The journal's mirror: every record copied, best-effort and in order, to a store the team runs.

The local journal stays the write-ahead truth of the operator's session: a record reaches
the mirror only after it is on disk (a :meth:`cockpit.journal.Journal.add_listener`), and the
mirror never blocks the operator:

- **A bounded queue.** :meth:`Mirror.offer` (called under the journal's lock) appends the
  record to a queue of at most ``capacity`` records and returns; a worker thread sends what
  is queued in batches (``MirrorStore.append``: idempotent, in ``seq`` order).
- **Behind, then backfilled from the file.** When the store does not answer (or the queue is
  full) the mirror stops queueing and only counts: the session goes on, and
  :meth:`Mirror.status` says *behind since T (N records)*. The worker retries with back-off;
  when the store answers it asks the store's last ``seq`` for the incident and sends every
  later record *read back from the journal file*, in order, until it has caught up with the
  journal, and only then queues again. A replay never duplicates: the stores keep one record
  per (incident, seq). Starting against an unreachable store is the same case (behind from
  the start); so is resuming a journal whose tail was never sent.
- **Closing.** When the journal closes, the mirror waits up to ``flush_s`` for the store,
  then says how many records it could not send (they are in the journal, and the next session
  that mirrors it sends them).

Observers read the store back (:class:`StoreFollower`: the records after the last one seen,
waiting on the store's own notification — LISTEN/NOTIFY, a blocking XREAD) and show how far
behind the operator they are (:class:`FollowStatus`).

The core knows the store only as :class:`cockpit.ports.MirrorStore`; the PostgreSQL and Redis
stores are in ``backends/mirror/``. The incident's id in the store is
:func:`incident_id` (the journal's file name and this host), its index row
(:class:`MirroredIncident`) is folded from the records by :func:`index_fields`.
"""
from __future__ import annotations

import collections
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.errors import CockpitError, ConfigError

if TYPE_CHECKING:
    from cockpit.journal import Journal
    from cockpit.ports import MirrorStore

MIRROR_SCHEMES = ("postgresql", "postgres", "redis", "rediss")
DEFAULT_CAPACITY = 1000
BATCH = 500
HEARTBEAT_S = 5.0
RETRY_MIN_S, RETRY_MAX_S = 0.25, 5.0

Warn = Callable[[str], Any]


def is_mirror_url(value: object) -> bool:
    """Is ``value`` a mirror's URL (``postgresql://``, ``postgres://``, ``redis://``, ``rediss://``)?"""
    if not isinstance(value, str):
        return False
    scheme, sep, _rest = value.partition("://")
    return bool(sep) and scheme.lower() in MIRROR_SCHEMES


def check_url(url: str) -> str:
    """``url`` when it names a mirror store, else ConfigError (exit 2) naming what is accepted."""
    from cockpit.text import redact_url, sanitize

    if not is_mirror_url(url):
        raise ConfigError(f"not a mirror URL: {sanitize(redact_url(str(url)), max_len=200)}",
                          hint="use postgresql://user@host/db or redis://host:6379/0")
    return url


_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


def incident_id(journal_path: str | Path, host: str | None = None) -> str:
    """The incident's id in the store: ``<journal file stem>@<host>`` (the stem is the UTC
    time the incident was opened and its target: ``20240501T120341Z-shop_checkout@bastion1``).
    Stable across restarts of the session on that host, so a resume keeps mirroring into the
    same incident."""
    stem = Path(journal_path).stem
    return _ID_UNSAFE.sub("_", f"{stem}@{host or socket.gethostname()}")[:200]


# --------------------------------------------------------------------------- the index


@dataclass(frozen=True)
class MirroredIncident:
    """One incident as the store's index has it (the team's history)."""

    id: str
    target: str = ""
    who: str = ""
    opened: datetime | None = None
    phase: str = ""
    resolved: datetime | None = None
    closed: datetime | None = None
    drill: bool = False
    last_seq: int = 0
    last_ts: datetime | None = None
    heartbeat: datetime | None = None
    """When the operator's mirror last wrote (records or its idle heartbeat)."""

    @property
    def open(self) -> bool:
        return self.opened is not None and self.resolved is None and self.closed is None

    def describe(self) -> str:
        """One line for the observer's picker: target, phase, who and when."""
        when = self.opened.astimezone().strftime("%H:%M:%S") if self.opened else "?"
        drill = " (drill)" if self.drill else ""
        return f"{self.target or '?'}{drill} — phase {self.phase or '?'}, opened {when} by {self.who or '?'}"


def parse_time(value: Any) -> datetime | None:
    """A journal ``ts`` (or a datetime) as an aware UTC datetime; None when it is not one."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def index_fields(record: dict) -> dict[str, Any]:
    """What ``record`` changes in its incident's index row (``target``, ``who``, ``opened``,
    ``drill``, ``phase``, ``resolved``, ``closed``); empty for most records."""
    kind = record.get("type")
    ts = parse_time(record.get("ts"))
    if kind == "incident_opened":
        return {"target": str(record.get("target") or ""), "who": str(record.get("who") or record.get("actor") or ""),
                "opened": ts, "drill": bool(record.get("drill")), "phase": "declare"}
    if kind == "phase" and isinstance(record.get("phase"), str):
        return {"phase": record["phase"]}
    if kind == "incident_resolved":
        return {"resolved": ts, "phase": "resolved"}
    if kind == "incident_closed":
        return {"closed": ts, "phase": "closed"}
    return {}


def seq_of(record: dict) -> int:
    seq = record.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else 0


def ordered(records: Iterable[dict], after: int) -> list[dict]:
    """The records with ``seq`` above ``after``, in increasing ``seq``, each once."""
    out: list[dict] = []
    last = after
    for record in records:
        seq = seq_of(record)
        if seq > last:
            out.append(record)
            last = seq
    return out


# --------------------------------------------------------------------------- the operator's side


@dataclass(frozen=True)
class MirrorStatus:
    """Where the mirror stands: ``state`` is ``connecting``, ``live``, ``behind`` or ``closed``."""

    store: str
    """The store's URL without secrets."""
    incident: str
    state: str
    pending: int
    """Records written to the journal and not yet confirmed by the store."""
    since: float | None
    """Epoch seconds since when the store has been behind (None: it is not)."""
    error: str = ""

    def line(self) -> str:
        """The status line: empty while live, else ``mirror behind since 12:03:41 (12 records)``."""
        if self.state == "live":
            return ""
        if self.state == "connecting":
            return ""
        when = datetime.fromtimestamp(self.since or time.time()).strftime("%H:%M:%S")
        n = f"{self.pending} record{'s' if self.pending != 1 else ''}"
        if self.state == "closed":
            return f"mirror stopped, {n} not sent" if self.pending else ""
        return f"mirror behind since {when} ({n})"


class Mirror:
    """Copies one journal's records to a :class:`~cockpit.ports.MirrorStore` (see the module).

    ``offer`` is the journal's listener (never blocks); a daemon thread does the I/O.
    ``warn(text)`` is told once per change: unreachable (and why), caught up again, and on
    close what could not be sent.
    """

    def __init__(self, store: MirrorStore, journal_path: str | Path, incident: str, *, last_seq: int = 0,
                 capacity: int = DEFAULT_CAPACITY, flush_s: float = 3.0, warn: Warn | None = None,
                 heartbeat_s: float = HEARTBEAT_S, retry: tuple[float, float] = (RETRY_MIN_S, RETRY_MAX_S),
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.path = Path(journal_path)
        self.incident = incident
        self.capacity = max(1, int(capacity))
        self.flush_s = flush_s
        self.warn = warn or (lambda text: None)
        self.heartbeat_s = heartbeat_s
        self.retry = retry
        self.clock = clock
        self._cond = threading.Condition()
        self._queue: collections.deque[tuple[int, dict]] = collections.deque()
        """(the seq of the record before it in the journal, the record)"""
        self._offered = last_seq
        """The seq of the last record the journal has (written before us, or offered)."""
        self._acked = 0
        """The store's last seq for the incident, as it last told us."""
        self._live = False
        self._state = "connecting"
        self._since: float | None = None
        self._error = ""
        self._stop = threading.Event()
        self._failures = 0
        """How many times the store failed us (an attempt to reach it, a send)."""
        self._nudge = threading.Event()
        """Set to retry a down store now (closing: the last chance to send)."""
        self._warned_down = False
        self.sent = 0
        """Records the store accepted from this mirror (live and backfilled)."""
        self.backfilled = 0
        """Of those, the ones read back from the journal file."""
        self._thread = threading.Thread(target=self._run, name=f"mirror:{self.path.name}", daemon=True)

    def start(self) -> Mirror:
        self._thread.start()
        return self

    # ---- the journal's side (under its lock: O(1), never blocks)

    def offer(self, record: dict) -> None:
        seq = seq_of(record)
        with self._cond:
            if seq <= self._offered:
                return
            prev, self._offered = self._offered, seq
            if self._live:
                if len(self._queue) < self.capacity:
                    self._queue.append((prev, record))
                else:  # the store is slower than the operator: the file has it, backfill later
                    self._queue.clear()
                    self._live, self._state = False, "behind"
                    self._since = self._since or self.clock()
                    self._error = f"more than {self.capacity} records queued"
                self._cond.notify()

    # ---- status

    def status(self) -> MirrorStatus:
        with self._cond:
            return MirrorStatus(store=self.store.display, incident=self.incident, state=self._state,
                                pending=max(0, self._offered - self._acked), since=self._since, error=self._error)

    def wait_caught_up(self, timeout: float, *, give_up_after: int | None = None) -> bool:
        """Block until the store has every record offered so far (False: ``timeout`` passed,
        or the store failed again after ``give_up_after`` failures)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._acked < self._offered:
                left = deadline - time.monotonic()
                if left <= 0 or give_up_after is not None and self._failures > give_up_after:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def close(self) -> None:
        """Wait up to ``flush_s`` for the store to have everything — a store that is down is
        tried once more at once, not waited for — then stop. Says what is left unsent (it is
        in the journal file)."""
        with self._cond:
            failures = self._failures if self._state == "behind" and self._error else None
        self._nudge.set()  # a store in back-off is tried again now
        caught = self.wait_caught_up(self.flush_s, give_up_after=failures) if self._thread.is_alive() else False
        with self._cond:
            self._stop.set()
            self._nudge.set()
            self._cond.notify_all()
        self._thread.join(timeout=0.5)  # a daemon: one stuck in a store call is not waited for
        left = max(0, self._offered - self._acked)
        with self._cond:
            self._state = "closed"
        if not caught and left:
            self.warn(f"mirror: {left} record{'s' if left != 1 else ''} not sent to {self.store.display}; "
                      f"they are in {self.path}: `cockpit incidents --push {self.path}` sends them (so does "
                      f"resuming the incident)")
        with _registry_lock:
            if self in _active:
                _active.remove(self)
        try:
            self.store.close()
        except Exception:  # noqa: BLE001
            pass

    # ---- the worker

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._live:
                self._catch_up()
                continue
            with self._cond:
                if not self._queue and self._live and not self._stop.is_set():
                    self._cond.wait(self.heartbeat_s)
                batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
                live = self._live
            if not live:
                continue  # fell behind meanwhile: the file has these
            try:
                if batch:
                    self._send(batch[0][0], [record for _prev, record in batch])
                elif self._acked > 0 and not self._stop.is_set():
                    self.store.heartbeat(self.incident)
            except CockpitError as exc:
                self._down(exc)

    def _send(self, after: int, batch: Sequence[dict], *, backfill: bool = False) -> None:
        """``batch`` follows the record ``after`` in the journal; the store takes it only if it
        has everything up to ``after`` (else it answers its own last seq and we backfill)."""
        last = self.store.append(self.incident, batch, after=after)
        with self._cond:
            before = self._acked
            self._acked = max(self._acked, last) if last >= after else last
            gained = max(0, self._acked - before)
            self.sent += gained
            if backfill:
                self.backfilled += gained
            if last < seq_of(batch[-1]):
                # the store lacks records before these (it was emptied, or lost them): read
                # them back from the file
                self._live, self._state = False, "behind"
                self._since = self._since or self.clock()
                self._queue.clear()
            self._cond.notify_all()

    def _down(self, exc: CockpitError) -> None:
        with self._cond:
            self._failures += 1
            self._queue.clear()
            self._live, self._state = False, "behind"
            self._since = self._since or self.clock()
            self._error = _one_line(exc)
            self._cond.notify_all()

    def _catch_up(self) -> None:
        """Until live: ask the store where it stands, send the file's later records in order,
        and go live once nothing was offered meanwhile. Backs off while the store is down."""
        from cockpit.journal import read_journal

        delay = self.retry[0]
        backfilled = self.backfilled
        while not self._stop.is_set():
            try:
                acked = self.store.last_seq(self.incident)
                with self._cond:
                    self._acked = acked
                while not self._stop.is_set():
                    with self._cond:
                        if self._offered <= self._acked:
                            self._live, self._state = True, "live"
                            was_behind, self._since, self._error = self._since, None, ""
                            self._queue.clear()
                            self._cond.notify_all()
                            break
                        after = self._acked
                    todo = ordered(read_journal(self.path), after)
                    if not todo:
                        raise CockpitError(f"the journal {self.path} holds no record after {after} "
                                           f"(the journal has {self._offered})", title="Mirror")
                    for i in range(0, len(todo), BATCH):
                        chunk = todo[i:i + BATCH]
                        self._send(after, chunk, backfill=True)
                        if self._acked < seq_of(chunk[-1]):
                            break  # the store lost some: start again from what it has
                        after = self._acked
                else:
                    return
                if self._warned_down:
                    self._warned_down = False
                    self.warn(f"mirror caught up with {self.store.display} ({self.backfilled - backfilled} records sent "
                              f"from the journal since {_hms(was_behind)})")
                return
            except CockpitError as exc:
                with self._cond:
                    self._failures += 1
                    self._cond.notify_all()
                    first = self._since is None
                    self._live, self._state = False, "behind"
                    self._since = self._since or self.clock()
                    self._error = _one_line(exc)
                if first or not self._warned_down:
                    self._warned_down = True
                    self.warn(f"mirror unreachable: {self._error}; the incident goes on in the journal and is "
                              f"sent when the store answers")
                self._nudge.wait(delay)
                self._nudge.clear()
                delay = min(delay * 2, self.retry[1])


def _one_line(exc: BaseException) -> str:
    from cockpit.text import sanitize

    return sanitize(str(exc), max_len=200)


def _hms(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch or time.time()).strftime("%H:%M:%S")


# --------------------------------------------------------------------------- this process's mirrors

_registry_lock = threading.Lock()
_active: list[Mirror] = []


def attach(journal: Journal, store: MirrorStore, *, capacity: int = DEFAULT_CAPACITY, flush_s: float = 3.0,
           warn: Warn | None = None, **kw: Any) -> Mirror:
    """Mirror ``journal`` into ``store`` from now on (and what the store lacks of its past)."""
    mirror = Mirror(store, journal.path, incident_id(journal.path), last_seq=journal.seq, capacity=capacity,
                    flush_s=flush_s, warn=warn, **kw)
    journal.add_listener(mirror.offer, mirror.close)
    with _registry_lock:
        _active.append(mirror)
    return mirror.start()


def active() -> list[Mirror]:
    """The mirrors of this process's open journals."""
    with _registry_lock:
        return list(_active)


def status_line() -> str:
    """The status line of this process's mirrors (empty when every one is live or none runs)."""
    return "; ".join(line for line in (m.status().line() for m in active()) if line)


# --------------------------------------------------------------------------- the observer's side


@dataclass(frozen=True)
class FollowStatus:
    """How far behind the operator an observer on the mirror is."""

    store: str
    incident: str
    seen_seq: int = 0
    store_seq: int = 0
    """The store's last seq for the incident (what the operator's mirror has sent)."""
    lag_s: float | None = None
    """From the operator's write of the last record seen to this observer folding it."""
    heartbeat: datetime | None = None
    """When the operator's mirror last wrote to the store."""
    error: str = ""
    since: float | None = None
    """Epoch seconds since when the store has not answered this observer."""

    def line(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        if self.error:
            return f"mirror unreachable since {_hms(self.since)} ({self.error})"
        behind = max(0, self.store_seq - self.seen_seq)
        lag = "" if self.lag_s is None else f", {self.lag_s:.1f}s after the operator"
        text = f"following the mirror: record {self.seen_seq}{lag}"
        if behind:
            text += f", {behind} behind"
        if self.heartbeat is not None:
            quiet = now - self.heartbeat.timestamp()
            if quiet > 3 * HEARTBEAT_S:
                text += f"; the operator's mirror silent since {self.heartbeat.astimezone().strftime('%H:%M:%S')}"
        return text


class StoreFollower:
    """Reads one incident's records back from a store (readonly): :meth:`records` yields every
    record from the first, then waits on the store for more; :meth:`status` says how far
    behind the operator this observer is."""

    def __init__(self, store: MirrorStore, incident: str, *, wait_s: float = 1.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.incident, self.wait_s, self.clock = store, incident, wait_s, clock
        self._lock = threading.Lock()
        self._seen = 0
        self._lag: float | None = None
        self._error = ""
        self._since: float | None = None
        self._info: MirroredIncident | None = None
        self._info_at = 0.0

    def records(self, stop: threading.Event) -> Iterator[dict]:
        """Every record of the incident in ``seq`` order, then each new one as the operator's
        mirror sends it, until ``stop`` is set. Survives the store going away (retries)."""
        delay = RETRY_MIN_S
        while not stop.is_set():
            try:
                batch = self.store.wait(self.incident, self._seen, self.wait_s)
                self._refresh_info()
                with self._lock:
                    self._error, self._since = "", None
                delay = RETRY_MIN_S
            except CockpitError as exc:
                with self._lock:
                    self._error = _one_line(exc)
                    self._since = self._since or self.clock()
                stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            now = self.clock()
            for record in ordered(batch, self._seen):
                with self._lock:
                    self._seen = seq_of(record)
                    ts = parse_time(record.get("ts"))
                    self._lag = None if ts is None else max(0.0, now - ts.timestamp())
                yield record

    def _refresh_info(self) -> None:
        now = self.clock()
        if now - self._info_at < 1.0:
            return
        self._info_at = now
        found = self.store.incidents(ids=[self.incident])
        with self._lock:
            self._info = found[0] if found else self._info

    def status(self) -> FollowStatus:
        with self._lock:
            info = self._info
            return FollowStatus(store=self.store.display, incident=self.incident, seen_seq=self._seen,
                                store_seq=max(self._seen, info.last_seq if info else 0), lag_s=self._lag,
                                heartbeat=info.heartbeat if info else None, error=self._error, since=self._since)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class MirrorSettings:
    url: str | None = None
    capacity: int = DEFAULT_CAPACITY
    flush_s: float = 3.0


def configured(env: dict[str, str] | None = None) -> MirrorSettings:
    """The ``journal`` section's mirror settings. The settings (pydantic) are loaded only when
    there is something to read — a ``COCKPIT_`` variable or a config file — so a command
    without any configuration pays nothing. A bad config raises ConfigError."""
    import os

    env = dict(os.environ if env is None else env)
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    present = any(k.startswith("COCKPIT_JOURNAL__") or k == "COCKPIT_CONFIG_FILE" for k in env) or \
        Path(base, "cockpit", "config.yaml").exists()
    if not present:
        return MirrorSettings()
    from cockpit.config import load_settings

    cfg = load_settings(env=env).journal
    return MirrorSettings(url=cfg.mirror.get_secret_value() if cfg.mirror is not None else None,
                          capacity=cfg.mirror_queue, flush_s=cfg.mirror_flush_s)


# --------------------------------------------------------------------------- opening stores

StoreOpener = Callable[[str, bool], "MirrorStore"]
_opener: StoreOpener | None = None


def set_store_opener(opener: StoreOpener) -> None:
    """The composition root says how a URL becomes a store (``backends.mirror.open_store``)."""
    global _opener
    _opener = opener


def open_store(url: str, *, readonly: bool) -> MirrorStore:
    """The store at ``url`` through the opener the composition root set (ConfigError without one)."""
    if _opener is None:
        raise ConfigError("no mirror store backend is wired in this process")
    return _opener(check_url(url), readonly)
