"""Headless Helm commands: ``cockpit helm history|list|rollback``.

Cheap to import (argparse only): the Kubernetes transport and YAML load inside the handlers.
History and list read Helm's release records from the cluster (no ``helm`` needed); rollback
runs Helm's own code (:mod:`backends.helm.helmcode`).
"""
from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    from backends.kubernetes.commands import revision_number

    helm_p = sub.add_parser("helm", parents=[common], help="Helm releases: history, list, rollback")
    hsub = helm_p.add_subparsers(dest="helm_command", metavar="ACTION", required=True)

    p = hsub.add_parser("history", parents=[common], help="a release's revisions (read from the cluster, no helm)")
    p.add_argument("release")
    p.add_argument("--revision", type=revision_number, metavar="N",
                   help="diff of values and manifest from the deployed revision to revision N")
    p.set_defaults(handler=cmd_history)

    p = hsub.add_parser("list", parents=[common], help="releases in the namespace (the newest revision of each)")
    p.add_argument("-A", "--all-namespaces", action="store_true", help="in every namespace")
    p.set_defaults(handler=cmd_list)

    p = hsub.add_parser("rollback", parents=[common], help="roll a release back with Helm's own code")
    p.add_argument("release")
    p.add_argument("--to-revision", type=revision_number, default=0, metavar="N",
                   help="revision to roll back to (default 0: the one before the deployed one)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--timeout", type=float, default=300.0, metavar="S", help="Helm's timeout (default 300)")
    p.set_defaults(handler=cmd_rollback)

    p = hsub.add_parser("set-tag", parents=[common],
                        help="set an image tag in a values file (everything else kept), then upgrade with Helm")
    p.add_argument("file", help="the values file (rewritten in place)")
    p.add_argument("key", help="dotted key of the tag, e.g. image.tag")
    p.add_argument("tag")
    p.add_argument("--release", help="upgrade this release with the file (needs --chart)")
    p.add_argument("--chart", help="the chart to upgrade the release with (a path or reference, as helm upgrade)")
    p.add_argument("--helmfile", help="apply with `helmfile --file HELMFILE sync` instead")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--timeout", type=float, default=300.0, metavar="S", help="Helm's timeout (default 300)")
    p.set_defaults(handler=cmd_set_tag)


def releases_from(args: argparse.Namespace) -> Any:
    from backends.helm.releases import HelmReleases
    from backends.kubernetes.commands import backend_from

    kube = backend_from(args)
    return HelmReleases(kube.t, kube.namespace)


def _when(r: Any) -> str:
    return r.updated.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if r.updated else "<unknown>"


def cmd_history(args: argparse.Namespace) -> int:
    from backends.helm.releases import diff
    from cockpit.output import emit, print_json

    rels = releases_from(args)
    history = rels.history(args.release)
    if args.revision is not None:
        d = diff(history, args.revision)
        if args.output == "json":
            print_json(d.to_json())
        elif not d.values and not d.manifest:
            print(f"revision {d.revision} renders what the deployed revision renders (no difference)")
        else:
            print("\n".join(["# values", *d.values, "# manifest", *d.manifest]))
        return 0
    rows = [(r.revision, _when(r), r.status, r.chart, r.app_version, ", ".join(r.images), r.description)
            for r in history]
    emit(args, {"release": args.release, "namespace": rels.namespace, "revisions": [r.to_json() for r in history]},
         ("REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "IMAGES", "DESCRIPTION"), rows)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from cockpit.output import emit

    rels = releases_from(args)
    found = rels.list(all_namespaces=args.all_namespaces)
    rows = [(r.release, r.namespace, r.revision, _when(r), r.status, r.chart, r.app_version) for r in found]
    emit(args, {"releases": [r.to_json() for r in found]},
         ("NAME", "NAMESPACE", "REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION"), rows)
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from backends.helm.rollback import run_rollback_command

    return run_rollback_command(args)


def cmd_set_tag(args: argparse.Namespace) -> int:
    from backends.helm.rollback import run_set_tag_command

    return run_set_tag_command(args)
