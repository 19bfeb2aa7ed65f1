"""``cockpit cdn purge``: Cloudflare and Fastly cache purges.

    cockpit cdn purge --provider cloudflare --zone Z (--everything | --files URL... | --tags T... | --hosts H...) [--yes]
    cockpit cdn purge --provider fastly --service S (--everything | --keys K...) [--soft] [--yes]

The token comes from the environment (``$COCKPIT_CDN__CLOUDFLARE_API_TOKEN`` or
``$CLOUDFLARE_API_TOKEN``; ``$COCKPIT_CDN__FASTLY_API_TOKEN`` or ``$FASTLY_API_TOKEN``), never
from argv. ``--base-url`` (or ``$COCKPIT_CDN__<PROVIDER>_URL``) points at another API
endpoint. Readonly refuses before anything is sent. With ``--journal`` the intent is fsynced
before the first request and the outcome (ok, or the one-line failure) after the last.
Asks on a terminal unless ``--yes``; without a terminal ``--yes`` is required (exit 130).
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from cockpit.prompt import ask as _ask


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    cdn = sub.add_parser("cdn", parents=[common], help="CDN cache purges: Cloudflare, Fastly")
    csub = cdn.add_subparsers(dest="cdn_command", metavar="ACTION", required=True)
    p = csub.add_parser("purge", parents=[common], help="purge a Cloudflare zone's or a Fastly service's cache")
    p.add_argument("--provider", required=True, choices=("cloudflare", "fastly"))
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--zone", help="Cloudflare zone id")
    where.add_argument("--service", help="Fastly service id")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--everything", action="store_true", help="the whole cache (origin load goes up)")
    what.add_argument("--files", nargs="+", metavar="URL", help="Cloudflare: these URLs")
    what.add_argument("--tags", nargs="+", metavar="TAG", help="Cloudflare: these cache tags")
    what.add_argument("--hosts", nargs="+", metavar="HOST", help="Cloudflare: every file of these hosts")
    what.add_argument("--keys", nargs="+", metavar="KEY", help="Fastly: these surrogate keys")
    p.add_argument("--soft", action="store_true", help="Fastly: mark stale instead of removing (keys only)")
    p.add_argument("--base-url", default=None, help="the API's base URL (default: the provider's, or $COCKPIT_CDN__<PROVIDER>_URL)")
    p.add_argument("--yes", action="store_true", help="do not ask")
    p.set_defaults(handler=_purge)


def _purge(args: argparse.Namespace) -> int:
    from backends.cdn.client import PurgeRequest, cdn_settings, make_purger
    from cockpit.errors import Aborted, ConfigError, ReadonlyError
    from cockpit.output import emit

    provider = args.provider
    target = args.zone if provider == "cloudflare" else args.service
    if target is None:
        raise ConfigError(f"{provider} needs {'--zone' if provider == 'cloudflare' else '--service'}")
    what = next(k for k in ("everything", "files", "tags", "hosts", "keys") if getattr(args, k))
    request = PurgeRequest(what, () if what == "everything" else tuple(getattr(args, what)))
    if getattr(args, "readonly", False):
        raise ReadonlyError(f"readonly: not purging {provider} {target} (nothing was sent)")
    purger = make_purger(provider, target, base_url=args.base_url, soft=args.soft, settings=cdn_settings())
    if not purger.supports(what):
        purger.purge(request)  # raises the one-line refusal before anything is sent
    if not args.yes:
        print(f"purge {provider} {purger.target_word} {target}: {request.describe()}", file=sys.stderr)
        if _ask("type yes to purge: ").strip().lower() != "yes":
            raise Aborted("nothing purged", hint="pass --yes")
    data = {"provider": provider, "target": target, "what": what, "count": len(request.values)}
    path = getattr(args, "journal", None)
    if path:
        from cockpit.journal import Journal

        with Journal.open(path) as journal:
            with journal.action("cdn.purge", **data) as act:
                result = purger.purge(request)
                act.result = {"requests": result.requests, "attempts": result.attempts, "ids": result.ids}
    else:
        result = purger.purge(request)
    emit(args, {**data, "requests": result.requests, "attempts": result.attempts, "ids": result.ids},
         ["PROVIDER", "TARGET", "PURGED", "REQUESTS", "ATTEMPTS"],
         [[provider, target, request.describe(), result.requests, result.attempts]])
    return 0
