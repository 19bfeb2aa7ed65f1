"""Notifications: Slack incoming webhooks, Atlassian Statuspage, generic JSON webhooks.

:class:`backends.notify.notifier.Notifier` is the one entry point (the cockpit, the step
kinds and ``cockpit notify`` use it): it renders templates from the journal, sends with
timeouts and retries (5xx, 429 and network errors, exponential back-off, via tenacity),
refuses everything readonly before a byte leaves, and journals each delivery as a
``notification`` record. Secrets (webhook URLs, API keys) are ``SecretStr`` and are scrubbed
from every message, error and record.
"""
