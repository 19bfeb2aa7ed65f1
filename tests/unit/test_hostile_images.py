"""Issue 13: image names in the history table, the pods table and the confirm modal show the
registry and repository (shortened in the middle, never at the front), and the modal shows
them whole. Pure render functions, no terminal."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cockpit.model import PodInfo, Revision, Target
from screens import render

TRICK = "registry.example/h:kubectl rollout undo deploy/api"
FOREIGN = "evil.example/shop/checkout:1.4.2"
OURS = "registry.example/shop/checkout:1.4.2"


def plain(c) -> str:
    return c.plain if hasattr(c, "plain") else str(c)


def test_history_shows_registry_and_repository_not_what_follows_the_last_slash() -> None:
    cells = render.revision_cells(Revision(3, (TRICK,), "x"), 0.0)
    shown = plain(cells[2])
    assert shown != "api" and shown.startswith("registry.example/h:")
    assert plain(render.revision_cells(Revision(2, (OURS,)), 0.0)[2]) == OURS


def test_pods_show_another_registry_as_another_registry() -> None:
    ours = plain(render.pod_cells(PodInfo("checkout-1", "Running", True, 0, image=OURS))[4])
    theirs = plain(render.pod_cells(PodInfo("checkout-2", "Running", True, 0, image=FOREIGN))[4])
    assert ours == OURS and theirs == FOREIGN and ours != theirs


def test_long_references_are_shortened_in_the_middle() -> None:
    deep = "registry.example/platform/teams/payments/checkout:1.4.2-rc.1"
    assert render.short_image(deep) == "registry.example/…/checkout:1.4.2-rc.1"
    digest = "registry.example/shop/checkout@sha256:" + "0123456789abcdef" * 4
    out = render.short_image(digest)
    assert len(out) <= render.IMAGE_WIDTH and out.startswith("registry.example/shop/") and out.endswith("89abcdef")


def test_the_confirm_modal_names_the_images_whole() -> None:
    long_image = "registry.example/platform/teams/payments/checkout-service:1.4.2-rc.1"
    text = plain(render.confirm_text(Target("checkout", "shop"), Revision(5, (FOREIGN,), live=True),
                                     Revision(4, (long_image, TRICK))))
    assert long_image in text and TRICK in text and FOREIGN in text


def test_hostile_images_stay_inert_and_visible() -> None:
    out = render.short_image("registry.example/\x1b]0;pwned\x07/api:1")
    assert "\x1b" not in out and "\\e]0;pwned\\a" in out


@given(st.text(min_size=1, max_size=200), st.integers(min_value=8, max_value=60))
def test_never_shortened_at_the_front(image: str, width: int) -> None:
    from cockpit.text import sanitize

    s = sanitize(image, max_len=1000)
    out = render.short_image(image, width)
    assert len(out) <= max(width, 1)
    if len(s) <= width:
        assert out == s
    else:
        head = out.split("…", 1)[0] if "/…/" not in out else out.split("/…/", 1)[0] + "/"
        assert head and s.startswith(head)
