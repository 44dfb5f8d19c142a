"""docs/README.md leads through install → first scan → approve → operate and links every page.

Relative links in README.md and docs/ must reach a file, and a `#anchor` into a Markdown page must
name one of its headings (GitHub's slugs: lowercase, punctuation dropped, spaces to dashes).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
INDEX = ROOT / "docs" / "README.md"
STEPS = ("## 1. Install", "## 2. First scan", "## 3. Approve", "## 4. Operate")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)}


def broken_links(page: Path, body: str | None = None) -> list[str]:
    problems = []
    text = page.read_text(encoding="utf-8") if body is None else body
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue  # https:, mailto:
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        where = page.relative_to(ROOT)
        if not linked.exists():
            problems.append(f"{where}: link {target} points at a file that does not exist")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            problems.append(f"{where}: link {target}: {linked.relative_to(ROOT)} has no heading #{anchor}")
    return problems


def test_the_index_has_the_four_steps_in_order() -> None:
    text = INDEX.read_text(encoding="utf-8")
    positions = [text.find(step) for step in STEPS]
    assert all(p >= 0 for p in positions), f"docs/README.md needs the headings {STEPS}"
    assert positions == sorted(positions), f"docs/README.md must keep the order {STEPS}"
    assert "(docs/README.md)" in (ROOT / "README.md").read_text(encoding="utf-8"), "README.md links the index"


def test_every_docs_page_is_linked_from_the_index() -> None:
    linked = {(INDEX.parent / t.partition("#")[0]).resolve() for t in LINK.findall(INDEX.read_text())}
    missing = [
        f"{page.relative_to(ROOT)} is not linked from docs/README.md: add it under the step where a reader "
        "needs it (1. Install, 2. First scan, 3. Approve, 4. Operate, or Reference and development)"
        for page in sorted((ROOT / "docs").rglob("*.md"))
        if page != INDEX and page.resolve() not in linked
    ]
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize(
    "page",
    [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_relative_links_reach_a_file_and_heading(page: Path) -> None:
    problems = broken_links(page)
    assert not problems, "\n".join(problems)


def test_a_missing_page_or_heading_is_reported() -> None:
    assert slug("High availability (peering)") == "high-availability-peering"
    assert slug("`kubectl cloudios`") == "kubectl-cloudios"
    probe = ROOT / "docs" / "probe.md"  # never written: its links resolve as a page in docs/ would
    assert broken_links(probe, "[x](operator.md#high-availability-peering) [y](https://example.com)") == []
    assert "docs/probe.md: link operator.md#nope: docs/operator.md has no heading #nope" in broken_links(
        probe, "[x](operator.md#nope)"
    )
    assert "does not exist" in " ".join(broken_links(probe, "[x](no-such-page.md)"))
