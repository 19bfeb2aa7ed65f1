"""Issue 13: the report's Markdown is not injectable. Every field outside text can reach is
filled with Markdown/HTML/autolink payloads; the report is rendered by a real Markdown
renderer (markdown-it-py, CommonMark and GFM-like with linkify) and holds no link, image or
HTML that the cockpit's own template did not put there — and the outside text still reads
as itself."""
from __future__ import annotations

from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from cockpit.journal import Journal, read_journal
from cockpit.report import report_text
from cockpit.text import sanitize

IMAGE = "x:[Grafana](https://evil.example/steal) ![x](https://evil.example/pixel.png)"
PAYLOADS = [
    IMAGE,
    "<img src=https://evil.example/p.png> <script>alert(1)</script> <https://evil.example/auto>",
    "entities &lt;b&gt; &amp;amp; &#x3C;i>",
    "see www.evil.com, evil.io/x, https://evil.example/bare or mallory@evil.com [ref]: https://evil.example",
    "[a][ref] [^1] *bold* __em__ ~~gone~~ $x^2$ `code` ``` | cell | \\[x\\](y)",
    "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07 \u202e line\u2028# heading\n- item\n1. one",
]
HOSTILE = " ".join(PAYLOADS)


def _clock():
    n = iter(range(10_000))
    return lambda: f"2024-05-01T14:{30 + next(n) // 60:02d}:{next(n) % 60:02d}.000Z"


def hostile_journal(path: Path, text: str) -> Path:
    """A journal with ``text`` in every field of every event type the report shows."""
    with Journal.open(path, actor=text, clock=_clock()) as j:
        j.append("incident_opened", target=f"shop/{text}", reason=text, who=text)
        j.append("phase", phase="identify")
        j.append("operator_input", key="users_affected", value=text)
        j.append("operator_input", key=text, value={text: [text]})
        j.append("verdict", value="rollback_now", reasons=[text], error_rate=0.2)
        j.append("revision_chosen", revision=4, images=[text, IMAGE], why=text)
        j.append("run_started", runbook=text)
        intent = j.intent("kubernetes.rollback", name=text, step=0)
        j.outcome(intent, True, result={"images": text, text: text}, step=0)
        failed = j.intent(text, name=text, step=1)
        j.outcome(failed, False, error_title=text, error_message=text, step=1)
        j.append("step_finished", index=1, kind=text, ok=False, status=text, error_message=text)
        j.append("check", id=text, ok=True, who=text, evidence=text, note=text)
        j.append("check", id="second", ok=False, who=text, evidence={"link": text}, note=text)
        j.append("notification", channel=text, ok=False, detail=text, purpose=text)
        j.append("comms", action=text, item=text, note=text)
        j.append("evidence", dir=f"/tmp/{text}", manifest=f"{text}/manifest.json", manifest_sha256=text,
                 files=[text], errors=[text])
        j.append("comparison", before={text: text, "error_rate": text}, after={text: text, "p95_ms": text})
        j.append("trigger", target=text, name=text, reason=text, auto=True)
        j.append("trigger_aborted", target=text, reason=text)
        j.append("phase", phase="monitor")
        j.append("screenshot", path=text)
        j.append("incident_resolved", summary=text)
    return path


RENDERERS = {"commonmark": lambda: MarkdownIt("commonmark"),
             "gfm-like+linkify": lambda: MarkdownIt("gfm-like").enable(["linkify", "table", "strikethrough"])}


def foreign(md: str, renderer: str) -> list[tuple[str, str]]:
    """Every link, image and HTML token of ``md`` as rendered."""
    found = []
    for tok in RENDERERS[renderer]().parse(md):
        if tok.type == "html_block":
            found.append(("html", tok.content))
        for child in tok.children or []:
            if child.type == "link_open":
                found.append(("link", str(child.attrs.get("href"))))
            elif child.type == "image":
                found.append(("image", str(child.attrs.get("src"))))
            elif child.type == "html_inline":
                found.append(("html", child.content))
    return found


@pytest.mark.parametrize("renderer", sorted(RENDERERS))
def test_no_link_image_or_html_comes_from_outside_text(tmp_path: Path, renderer: str) -> None:
    records = read_journal(hostile_journal(tmp_path / "j.jsonl", HOSTILE))
    md = report_text(records, "md")
    assert foreign(md, renderer) == []
    # the operator's screenshot (the template's only image) is still embedded
    assert foreign(report_text(records, "md", screenshot="final.svg"), renderer) == [("image", "final.svg")]


@pytest.mark.parametrize("payload", PAYLOADS, ids=["image-link", "html", "entities", "autolinks", "emphasis", "controls"])
def test_each_payload_alone_is_inert(tmp_path: Path, payload: str) -> None:
    md = report_text(read_journal(hostile_journal(tmp_path / "j.jsonl", payload)), "md")
    for renderer in RENDERERS:
        assert foreign(md, renderer) == []
    if "&" not in payload:
        assert "&" not in md  # escaped for Markdown, not HTML (no &gt; of ours)


def test_outside_text_reads_as_itself_when_rendered(tmp_path: Path) -> None:
    """Escaping is honest: the reason renders to exactly the sanitized outside text."""
    md = report_text(read_journal(hostile_journal(tmp_path / "j.jsonl", HOSTILE)), "md")
    tokens = MarkdownIt("commonmark").parse(md)
    items = ["".join(c.content for c in t.children or [] if c.type in ("text", "text_special"))
             for t in tokens if t.type == "inline"]
    assert f"Reason: {sanitize(HOSTILE, max_len=500)}" in items
    assert "\\e]8;;https://evil.example\\aclick" in md.replace("\\\\", "\\").replace("\\.", ".").replace("\\:", ":")


def test_the_reproduction_image_is_text_not_a_link(tmp_path: Path) -> None:
    """The issue's image, rolled back to: it reads as itself, and renders as no link."""
    path = tmp_path / "j.jsonl"
    with Journal.open(path, actor="alice@bastion", clock=_clock()) as j:
        j.append("incident_opened", target="shop/checkout", reason="runbook checkout rollback")
        j.append("revision_chosen", revision=2, images=[f"registry.example/shop/{IMAGE}"], why="previous revision")
        i = j.intent("kubernetes.rollback", step=0)
        j.outcome(i, True, result={"result": "rolled_back", "to_revision": 2, "images": [f"registry.example/shop/{IMAGE}"]})
    md = report_text(read_journal(path), "md")
    html = MarkdownIt("commonmark").render(md)
    assert "<a " not in html and "<img" not in html
    assert "[Grafana](https://evil.example/steal)" in html  # shown, as text


def test_a_screenshot_path_with_a_scheme_is_not_embedded(tmp_path: Path) -> None:
    records = read_journal(hostile_journal(tmp_path / "j.jsonl", "ok"))
    for src in ("https://evil.example/pixel.png", "javascript:alert(1)", "//evil.example/x.svg"):
        md = report_text(records, "md", screenshot=src)
        assert all(foreign(md, r) == [] for r in RENDERERS), src
    md = report_text(records, "md", screenshot="shots/final dashboard <1>.svg")
    assert foreign(md, "commonmark") == [("image", "shots/final%20dashboard%20%3C1%3E.svg")]
