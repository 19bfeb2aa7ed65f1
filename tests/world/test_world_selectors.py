"""Label and field selectors."""
from __future__ import annotations

import pytest

from cockpit.world import selectors as sel

LABELS = {"app": "web", "tier": "front", "env": "prod"}


@pytest.mark.parametrize(("text", "expected"), [
    ("", True),
    ("app=web", True),
    ("app==web", True),
    ("app!=web", False),
    ("app!=api", True),
    ("missing!=x", True),
    ("app in (web,api)", True),
    ("app in (api)", False),
    ("app notin (api, db)", True),
    ("app notin (web)", False),
    ("missing notin (x)", True),
    ("tier", True),
    ("!tier", False),
    ("!missing", True),
    ("app=web,tier=front", True),
    ("app=web,tier=back", False),
    ("app in (web, api),env,!canary", True),
    ("example.com/team=x", False),
])
def test_label_selector(text: str, expected: bool) -> None:
    assert sel.matches(sel.parse_label_selector(text), LABELS) is expected


@pytest.mark.parametrize("text", ["app=web=x", "app in web", "=x", "a b"])
def test_label_selector_errors(text: str) -> None:
    with pytest.raises(sel.SelectorError):
        sel.parse_label_selector(text)


def test_label_selector_from_object_and_back() -> None:
    obj = {"matchLabels": {"app": "web"}, "matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["front", "edge"]},
        {"key": "canary", "operator": "DoesNotExist"}]}
    reqs = sel.selector_from_label_selector(obj)
    assert sel.matches(reqs, LABELS)
    assert not sel.matches(reqs, {**LABELS, "canary": "1"})
    assert sel.format_label_selector(obj) == "app=web,tier in (edge,front),!canary"
    assert sel.equality_terms(reqs) == [("app", "web")]


def test_field_selector() -> None:
    ev = {"metadata": {"name": "e1", "namespace": "shop"},
          "involvedObject": {"kind": "Deployment", "name": "checkout", "uid": "u1"}, "status": {"phase": "Running"}}
    assert sel.parse_field_selector(None) is None
    assert sel.parse_field_selector("involvedObject.name=checkout,involvedObject.kind=Deployment")(ev)
    assert not sel.parse_field_selector("involvedObject.uid=u2")(ev)
    assert sel.parse_field_selector("metadata.namespace!=default")(ev)
    assert sel.parse_field_selector("status.phase==Running")(ev)
    assert sel.field_equals("metadata.name=e1,x=y", "metadata.name") == "e1"
    assert sel.field_equals("metadata.name!=e1", "metadata.name") is None
    with pytest.raises(sel.SelectorError):
        sel.parse_field_selector("nonsense")
