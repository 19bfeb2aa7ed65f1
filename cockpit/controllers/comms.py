"""Team communication: which periodic update, "rollback started" message or escalation is
due, and sending, editing or skipping it through the notifier (every delivery and skip
journaled). In a drill the notifier is the local outbox (:mod:`backends.notify.outbox`).

The notify settings (pydantic) are loaded in a thread after the first frame
(:meth:`CommsController.load`); :meth:`CommsController.tick` toasts an item once when it
falls due. Sending, editing and skipping are the operator acting: they open the incident for
the target on screen when none is open, and are refused readonly (the notifier is built
readonly too, and refuses before anything is rendered or sent).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from cockpit.errors import CockpitError


class CommsController:
    def __init__(self, host: Any, data: Any, incident: Any, *, load_settings: Callable[[], Any],
                 notifier_factory: Callable[[Any], Any]) -> None:
        """``load_settings() → NotifySettings``; ``notifier_factory(journal) → Notifier`` (both
        the composition root's)."""
        self.paging = False
        self.page_failed_at: float | None = None
        self.host, self.data, self.incident = host, data, incident
        self.load_settings, self.notifier_factory = load_settings, notifier_factory
        self.announced: set[tuple[str, str]] = set()

    # ---- the plan (event loop unless said)

    def start(self, then: Callable[[], Any] = lambda: None, prepare: Callable[[], Any] = lambda: None) -> None:
        """Load the policy and channels in a thread (and ``prepare()`` there: the UI's own
        imports), show them, start the toasts (every 5 s), then ``then()``."""
        def load() -> tuple[Any, list[str]]:
            loaded = self.load()
            prepare()
            return loaded

        def got(loaded: tuple[Any, list[str]]) -> None:
            if self.loaded(*loaded):
                self.host.set_interval(5.0, self.tick)
            then()

        self.host.fetch("comms-load", load, got)

    def load(self) -> tuple[Any, list[str]]:
        """*Thread.* The comms policy and the notifier's channels (imports pydantic): the team's
        configured ones, or a drill's local ``outbox``."""
        ns = self.load_settings()
        channels = getattr(self.notifier_factory(None), "channels", None)
        return ns.policy(), list(channels) if channels is not None else ns.configured_channels()

    def loaded(self, policy: Any, channels: list[str]) -> bool:
        """Show the policy and channels; True the first time (start :meth:`tick` then)."""
        first = self.data.comms_policy is None
        self.data.comms_policy, self.data.comms_channels = policy, channels
        self.host.mark("comms")
        return first

    def tick(self, now: datetime | None = None) -> list[str]:
        """A toast when a comms item falls due (once per item and due time); returns them."""
        from cockpit.comms import plan

        if self.data.comms_policy is None or not self.data.records:
            return []
        toasts = []
        for due in plan(self.data.records, self.data.comms_policy).due_now(now or datetime.now(timezone.utc)):
            key = (due.key, due.due_at.isoformat())
            if key not in self.announced:
                self.announced.add(key)
                toasts.append(f"comms: the {due.label} {'message ' if due.kind == 'started' else ''}is due"
                              " — t opens the comms panel")
                self.host.notify(toasts[-1], severity="warning", timeout=8)
        self.page_owed()
        return toasts

    def page_owed(self) -> None:
        """PagerDuty: send what the incident owes (trigger on declare, acknowledge when the rollback
        starts, resolve when resolved) in a thread, one batch at a time; a minute after a failure
        before retrying (the delivery is journaled either way)."""
        import time

        from cockpit.comms import PAGERDUTY, pagerduty_owed

        if (self.paging or self.data.readonly or self.incident.session is None
                or PAGERDUTY not in (self.data.comms_channels or ())
                or (self.page_failed_at is not None and time.monotonic() - self.page_failed_at < 60.0)
                or not pagerduty_owed(self.data.records)):
            return
        self.paging = True

        def job() -> None:
            deliveries = None
            try:
                deliveries = self.notifier().page()
            finally:
                self.host.call_from_thread(self._paged, deliveries)

        self.host.run_in_thread(job)

    def _paged(self, deliveries: list | None) -> None:
        import time

        self.paging = False
        failed = [d for d in deliveries or () if not d.ok]
        if deliveries is None or failed:
            self.page_failed_at = time.monotonic()
        for d in failed:
            self.host.notify(f"pagerduty: not delivered ({d.detail})", severity="error", timeout=10)

    def want(self, action: str, item: str | None, edit: Callable[[str, str], Any]) -> None:
        """The operator asked to ``send``, ``edit`` (``edit(item, text)`` shows the editor on the
        event loop; its result goes to :meth:`send_async`) or ``skip`` ``item`` (None: the next)."""
        if self.data.readonly or self.incident.session is None:
            return
        target = self.data.target
        if action == "skip":
            def skip() -> None:
                self.skip(item, target=target)
                self.host.call_from_thread(self.host.notify, "skipped (journaled)")

            self.host.run_in_thread(skip)
            return
        if not self.data.comms_channels:
            self.host.notify("no notification channel is configured (see the comms panel)", severity="warning")
            return
        if action == "edit":
            def preview() -> None:
                due, text = self.preview(item, target=target)
                self.host.call_from_thread(edit, due.key, text)

            self.host.run_in_thread(preview)
        else:
            self.send_async(item, None)

    def send_async(self, item: str | None, text: str | None) -> None:
        """Send in a thread, with a busy line while it runs and a toast per channel after."""
        self.data.comms_busy = f"sending {item or 'the next item'}…"
        self.host.mark("comms")
        target = self.data.target

        def job() -> None:
            deliveries = None
            try:
                deliveries = self.send(item, text, target=target)
            finally:
                self.host.call_from_thread(self._sent, deliveries)

        self.host.run_in_thread(job)

    def _sent(self, deliveries: list | None) -> None:
        self.data.comms_busy = ""
        self.host.mark("comms")
        for d in deliveries or ():
            if d.ok:
                self.host.notify(f"sent on {d.channel}", timeout=4)
            else:
                self.host.notify(f"{d.channel}: not delivered ({d.detail})", severity="error", timeout=10)

    # ---- the notifier (threads)

    def notifier(self) -> Any:
        """A notifier journaling into the open incident (readonly sessions get a readonly one)."""
        s = self.incident.session
        return self.notifier_factory(s.journal if s is not None else None)

    def _due(self, item: str | None, target: Any, reason: str) -> tuple[list[dict], Any, Any]:
        from cockpit.comms import plan

        journal = self.incident.open_for(target, reason)
        records = journal.read()
        n = self.notifier()
        p = plan(records, n.settings.policy())
        due = {d.key: d for d in p.items}.get(item) if item else p.next
        if due is None or due.status != "pending":
            raise CockpitError(f"{item or 'nothing'} is not due: it was sent or skipped already, or the incident is resolved",
                               title="Nothing to send")
        return records, n, due

    def preview(self, item: str | None, *, target: Any = None) -> tuple[Any, str]:
        """*Thread.* The item and the text that would be sent (title line, then the body)."""
        records, n, due = self._due(item, target, "comms: a message prepared")
        chans = [c for c in (list(due.channels) or ["slack", "webhook"]) if c in n.channels] or (n.channels[:1] or ["slack"])
        extra = {"level": due.level or "", "mentions": " ".join(due.targets)} if due.kind == "escalation" else None
        msg = n.preview(chans[0], due.template, records, extra=extra)
        return due, f"{msg.title}\n{msg.body}"

    def send(self, item: str | None, text: str | None = None, *, target: Any = None) -> list:
        """*Thread.* Send ``item`` on its channels (each delivery journaled by the notifier);
        ``text``: the operator's edit (journaled as an ``edit`` first, its length only)."""
        from cockpit.comms import edit_event

        records, n, due = self._due(item, target, "comms: an update sent")
        if text is not None:
            self.incident.session.record("comms", **edit_event(due, template=due.template, chars=len(text)))
        return n.send_due(due, records, text=text)

    def skip(self, item: str | None, note: str = "", *, target: Any = None) -> dict:
        """*Thread.* Journal that the operator skipped ``item``."""
        from cockpit.comms import skip_event

        _records, _n, due = self._due(item, target, "comms: an update skipped")
        return self.incident.session.record("comms", **skip_event(due, note=note))
