"""The dashboard's sources keep to what a strict Content-Security-Policy allows (script-src
'self', style-src 'self', no 'unsafe-inline', no 'unsafe-eval'): no inline script, handler,
style attribute or javascript: URL in the pages, and no script that writes HTML or style
attributes, or evaluates strings. The browser test in test_dashboard_ui.py loads the pages
under that policy; this catches what it does not click through."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parent.parent / "web"
PAGES = sorted(WEB.glob("*.html"))
SCRIPTS = sorted(WEB.glob("*.js"))

HTML_RULES = {
    "inline <script>": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>|<script\b[^>]*>\s*[^<\s]", re.I),
    "<style> element": re.compile(r"<style\b", re.I),
    "style attribute": re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I),
    "inline event handler": re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}
SCRIPT_RULES = {
    "HTML from a string": re.compile(r"\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML|"
                                     r"document\.write|createContextualFragment"),
    "style attribute": re.compile(r"setAttribute\(\s*[\"']style|\bstyle\s*:\s*[`\"']"),
    "handler attribute": re.compile(r"setAttribute\(\s*[\"']on"),
    "string evaluated": re.compile(r"\beval\s*\(|new\s+Function\s*\(|"
                                   r"set(Timeout|Interval)\(\s*[`\"']"),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def _without_comments(source: str) -> str:
    """JavaScript without its // and /* */ comments (prose may name what it avoids)."""
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    return re.sub(r"(^|[^:\\])//[^\n]*", r"\1", source)


def test_there_are_pages_and_scripts() -> None:
    assert {p.name for p in PAGES} >= {"index.html", "login.html"}
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_has_nothing_inline(page: Path) -> None:
    html = re.sub(r"<!--.*?-->", "", page.read_text(), flags=re.S)
    found = [f"{what}: {m.group(0)!r}" for what, rule in HTML_RULES.items()
             for m in rule.finditer(html)]
    assert not found, found
    assert re.search(r'<script type="module" src="/[a-z]+\.js"></script>', html)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_writes_no_html_or_inline_style(script: Path) -> None:
    source = _without_comments(script.read_text())
    found = [f"{what}: line {source.count(chr(10), 0, m.start()) + 1}: {m.group(0)!r}"
             for what, rule in SCRIPT_RULES.items() for m in rule.finditer(source)]
    assert not found, found


def test_the_rules_see_what_they_forbid() -> None:
    """Each rule catches its example, so a rule that matches nothing is not mistaken for
    clean sources."""
    html = {
        "inline <script>": '<script>alert(1)</script>',
        "<style> element": "<style>p{}</style>",
        "style attribute": '<div class="x" style="color:red">',
        "inline event handler": '<button type="button" onclick="go()">',
        "javascript: URL": '<a href="javascript:void(0)">',
    }
    js = {
        "HTML from a string": "box.innerHTML = text;",
        "style attribute": 'el("div", { style: "--n: 3" })',
        "handler attribute": 'b.setAttribute("onclick", "go()")',
        "string evaluated": 'setTimeout("tick()", 10)',
        "javascript: URL": 'a.href = "javascript:go()"',
    }
    assert [w for w, text in html.items() if not HTML_RULES[w].search(text)] == []
    assert [w for w, text in js.items()
            if not SCRIPT_RULES[w].search(_without_comments(text))] == []
    assert not HTML_RULES["inline <script>"].search(
        '<script type="module" src="/app.js"></script>')
    assert not SCRIPT_RULES["style attribute"].search("segs.style.setProperty('--n', '3')")
