"""JSON patch, JSON merge patch and strategic merge patch, as kubectl sends them."""
from __future__ import annotations

import pytest

from cockpit.world.patch import PatchError, json_patch, merge_patch, strategic_merge

DEP = {
    "metadata": {"name": "web", "annotations": {"a": "1", "b": "2"}},
    "spec": {
        "replicas": 3,
        "paused": False,
        "template": {"spec": {"containers": [
            {"name": "web", "image": "web:1", "ports": [{"containerPort": 80, "protocol": "TCP"}],
             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "sidecar", "image": "side:1", "args": ["--x", "--y"]},
        ]}},
    },
}


def test_json_patch_replace_add_remove_test() -> None:
    out = json_patch(DEP, [
        {"op": "test", "path": "/spec/replicas", "value": 3},
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "web:2"},
        {"op": "add", "path": "/metadata/annotations/c~1d", "value": "3"},
        {"op": "remove", "path": "/metadata/annotations/a"},
        {"op": "add", "path": "/spec/template/spec/containers/1/args/-", "value": "--z"},
        {"op": "copy", "from": "/spec/replicas", "path": "/spec/minReadySeconds"},
        {"op": "move", "from": "/metadata/annotations/b", "path": "/metadata/annotations/bb"},
    ])
    assert out["spec"]["template"]["spec"]["containers"][0]["image"] == "web:2"
    assert out["metadata"]["annotations"] == {"c/d": "3", "bb": "2"}
    assert out["spec"]["template"]["spec"]["containers"][1]["args"] == ["--x", "--y", "--z"]
    assert out["spec"]["minReadySeconds"] == 3
    assert DEP["spec"]["template"]["spec"]["containers"][0]["image"] == "web:1"  # input untouched


def test_json_patch_replace_whole_subtrees_like_rollout_undo() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "web:0"}]}}
    out = json_patch(DEP, [{"op": "replace", "path": "/spec/template", "value": template},
                           {"op": "replace", "path": "/metadata/annotations", "value": {"x": "y"}}])
    assert out["spec"]["template"] == template
    assert out["metadata"]["annotations"] == {"x": "y"}


@pytest.mark.parametrize("ops", [
    [{"op": "replace", "path": "/spec/nope", "value": 1}],
    [{"op": "remove", "path": "/metadata/missing"}],
    [{"op": "test", "path": "/spec/replicas", "value": 4}],
    [{"op": "jump", "path": "/spec"}],
    [{"op": "add", "path": "/spec/template/spec/containers/9", "value": {}}],
    [{"op": "replace", "path": "spec", "value": 1}],
    {"op": "replace"},
])
def test_json_patch_errors(ops: object) -> None:
    with pytest.raises(PatchError):
        json_patch(DEP, ops)


def test_merge_patch_null_deletes_and_lists_replace() -> None:
    out = merge_patch(DEP, {"metadata": {"annotations": {"a": None, "n": "new"}},
                            "spec": {"paused": True, "template": {"spec": {"containers": [{"name": "only"}]}}}})
    assert out["metadata"]["annotations"] == {"b": "2", "n": "new"}
    assert out["spec"]["paused"] is True
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "only"}]


def test_strategic_set_image_merges_containers_by_name() -> None:
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
        "containers": [{"image": "side:2", "name": "sidecar"}]}}}}
    out = strategic_merge(DEP, patch)
    cs = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in cs] == ["web", "sidecar"]
    assert cs[1] == {"name": "sidecar", "image": "side:2", "args": ["--x", "--y"]}
    assert cs[0] == DEP["spec"]["template"]["spec"]["containers"][0]


def test_strategic_merges_env_and_ports_by_key_and_deletes() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{
        "name": "web",
        "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}, {"name": "A", "$patch": "delete"}],
        "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 9090}],
    }]}}}}
    out = strategic_merge(DEP, patch)
    web = out["spec"]["template"]["spec"]["containers"][0]
    assert web["env"] == [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]
    assert web["ports"] == [{"containerPort": 80, "protocol": "TCP", "name": "http"}, {"containerPort": 9090}]


def test_strategic_directives_replace_and_delete() -> None:
    out = strategic_merge(DEP, {"spec": {"template": {"spec": {"containers": [
        {"$patch": "replace"}, {"name": "solo", "image": "solo:1"}]}}}})
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "solo", "image": "solo:1"}]
    out = strategic_merge(DEP, {"metadata": {"annotations": {"$patch": "replace", "z": "26"}}})
    assert out["metadata"]["annotations"] == {"z": "26"}
    out = strategic_merge(DEP, {"metadata": {"annotations": {"$patch": "delete"}}})
    assert "annotations" not in out["metadata"]
    out = strategic_merge(DEP, {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}})
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["web"]


def test_strategic_pause_annotate_scale_and_primitive_lists() -> None:
    out = strategic_merge(DEP, {"spec": {"paused": True, "replicas": 5}, "metadata": {"annotations": {"a": None}}})
    assert out["spec"]["paused"] is True and out["spec"]["replicas"] == 5
    assert out["metadata"]["annotations"] == {"b": "2"}
    # lists of scalars without a merge strategy are replaced
    out = strategic_merge(DEP, {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "args": ["--q"]}]}}}})
    assert out["spec"]["template"]["spec"]["containers"][1]["args"] == ["--q"]
    # finalizers merge as a set; $deleteFromPrimitiveList removes
    base = {"metadata": {"finalizers": ["a", "b"]}}
    assert strategic_merge(base, {"metadata": {"finalizers": ["c"]}})["metadata"]["finalizers"] == ["a", "b", "c"]
    assert strategic_merge(base, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})["metadata"][
        "finalizers"] == ["b"]


def test_strategic_list_item_without_merge_key_is_an_error() -> None:
    with pytest.raises(PatchError):
        strategic_merge(DEP, {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})
