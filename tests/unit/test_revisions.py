"""kubectl's client-side rollout semantics, on fixture objects (pure functions)."""
from __future__ import annotations

import pytest

from backends.kubernetes import revisions as rv
from cockpit.errors import ConflictError, NotFoundError


def template(image: str, hash_: str | None = None) -> dict:
    labels = {"app": "web"}
    if hash_:
        labels[rv.HASH_LABEL] = hash_
    return {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": image}]}}


def deployment(image: str, **annotations: str) -> dict:
    return {
        "metadata": {"name": "web", "namespace": "default", "uid": "d-uid", "generation": 4,
                     "annotations": {rv.REVISION: "3", **annotations}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template(image)},
        "status": {"observedGeneration": 4, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
                   "availableReplicas": 3},
    }


def rs(name: str, revision: int, image: str, owner: str = "d-uid", cause: str | None = None, created: str = "2026-01-01T00:00:00Z") -> dict:
    ann = {rv.REVISION: str(revision), rv.DESIRED_REPLICAS: "3"}
    if cause:
        ann[rv.CHANGE_CAUSE] = cause
    return {
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": created, "annotations": ann,
                     "labels": {"app": "web", rv.HASH_LABEL: name[-4:]},
                     "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": owner, "controller": True}]},
        "spec": {"template": template(image, name[-4:])},
    }


RSS = [rs("web-aaaa", 1, "web:1", cause="first"), rs("web-bbbb", 2, "web:2"), rs("web-cccc", 3, "web:3"),
       rs("other-dddd", 9, "web:9", owner="someone-else")]


def test_history_is_owned_sorted_and_marks_live() -> None:
    hist = rv.history(deployment("web:3"), list(reversed(RSS)))
    assert [r.number for r in hist] == [1, 2, 3]
    assert [r.live for r in hist] == [False, False, True]
    assert hist[0].change_cause == "first" and hist[0].images == ("web:1",)


def test_to_revision_zero_is_second_highest_not_before_live() -> None:
    # Live is revision 2's template (e.g. after an earlier undo); kubectl still picks number 2.
    d = deployment("web:2")
    assert rv.revision_of(rv.replicaset_for_revision(d, RSS, 0)) == 2


def test_unknown_revision_lists_existing() -> None:
    with pytest.raises(NotFoundError, match="revisions that exist: 1, 2, 3"):
        rv.replicaset_for_revision(deployment("web:3"), RSS, 7)


def test_no_previous_revision() -> None:
    with pytest.raises(NotFoundError, match="no rollout history"):
        rv.replicaset_for_revision(deployment("web:3"), RSS[2:3], 0)


def test_equal_ignores_only_the_hash_label() -> None:
    assert rv.equal_ignore_hash(template("a", "x1"), template("a"))
    assert not rv.equal_ignore_hash(template("a", "x1"), template("b", "x1"))


def test_rollback_patch_is_kubectls_json_patch() -> None:
    d = deployment("web:3", **{rv.CHANGE_CAUSE: "bad release", rv.LAST_APPLIED: "{}"})
    patch = rv.rollback_patch(d, RSS[0])
    assert [op["path"] for op in patch] == ["/spec/template", "/metadata/annotations"]
    assert rv.HASH_LABEL not in patch[0]["value"]["metadata"]["labels"]
    ann = patch[1]["value"]
    # the RS's change-cause replaces the deployment's; the controller's bookkeeping stays the deployment's
    assert ann[rv.CHANGE_CAUSE] == "first"
    assert ann[rv.REVISION] == "3" and ann[rv.LAST_APPLIED] == "{}"
    assert rv.DESIRED_REPLICAS not in ann


def test_rollback_refused_on_paused() -> None:
    d = deployment("web:3")
    d["spec"]["paused"] = True
    with pytest.raises(ConflictError, match="paused"):
        rv.rollback_patch(d, RSS[0])


@pytest.mark.parametrize(
    ("change", "complete", "fragment"),
    [
        ({}, True, "successfully rolled out"),
        ({"status": {"observedGeneration": 3}}, False, "spec update to be observed"),
        ({"status": {"updatedReplicas": 1}}, False, "1 out of 3 new replicas"),
        ({"status": {"replicas": 5}}, False, "2 old replicas are pending termination"),
        ({"status": {"availableReplicas": 2}}, False, "2 of 3 updated replicas are available"),
    ],
)
def test_progress_judged_like_kubectl(change: dict, complete: bool, fragment: str) -> None:
    d = deployment("web:3")
    d["status"].update(change.get("status", {}))
    p = rv.judge_progress(d)
    assert p.complete is complete
    assert fragment in p.message


def test_deadline_exceeded_is_failed() -> None:
    d = deployment("web:3")
    d["status"]["updatedReplicas"] = 1
    d["status"]["conditions"] = [{"type": "Progressing", "status": "False", "reason": rv.TIMED_OUT}]
    p = rv.judge_progress(d)
    assert p.failed and not p.complete and "exceeded its progress deadline" in p.message


def test_diff_ignores_hash_and_shows_image_change() -> None:
    lines = rv.template_diff(template("web:3", "cccc"), template("web:2", "bbbb"), "live", "revision 2")
    assert "-  - image: web:3" in lines and "+  - image: web:2" in lines
    assert not any(rv.HASH_LABEL in line for line in lines)
    assert rv.template_diff(template("a", "1"), template("a", "2"), "l", "r") == ()


def test_hostile_strings_are_made_inert() -> None:
    evil = rs("web-eeee", 4, "web:4\x1b]52;c;ZXZpbA==\x07", cause="[@click=app.quit]\u202ehi\x9b31m")
    hist = rv.history(deployment("web:3"), [evil])
    assert hist[0].change_cause == "[@click=app.quit]\\u202ehi\\x9b31m"  # markup literal for Text(); controls shown inert
    assert "\x1b" not in hist[0].images[0] and "\x07" not in hist[0].images[0]
