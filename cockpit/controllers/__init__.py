"""The full-screen cockpit's logic, without Textual: controllers the app wires to screens.

Each controller owns one job and fills the screens' data holder (``screens.data.UIData``,
passed in; never imported here), asks its :class:`~cockpit.controllers.host.Host` to redraw
(``mark``), to toast (``notify``) or to run blocking work in a thread (``run_in_thread``), and
is unit-tested without a terminal against real journals:

- :mod:`.incident` — follows the incident journal into ``IncidentState`` (batched) and opens
  the incident for a target when the operator acts (never when browsing);
- :mod:`.live` — metrics → decision engine → verdict, and the armed automatic rollback;
- :mod:`.checklist` — the verification checklist's automatic ticks and the operator's;
- :mod:`.comms` — which update or escalation is due; send, edit-then-send, skip;
- :mod:`.data_layer` — the PostgreSQL snapshot and the Redis dry run and (write-ahead)
  invalidation;
- :mod:`.report` — the incident report written next to the journal.
"""
