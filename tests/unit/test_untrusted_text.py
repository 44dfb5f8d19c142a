"""Untrusted text (tags, names, CR fields) is shown literally: no markup, no escapes, no HTML."""

from __future__ import annotations

import io
import unicodedata
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from cloudios.cli import kubectl_views
from cloudios.cli.output import table, to_html
from cloudios.cli.report import Report
from cloudios.domain import Action, Finding, Provider, Resource, ScanRecord
from cloudios.domain.text import TAG_MAX, printable
from cloudios.pipeline.scan import ScanOutcome
from tests.unit.test_dedupe import finding

OSC8 = "\x1b]8;;https://attacker.example/\x1b\\click\x1b]8;;\x1b\\"
HOSTILE = f"[/evil] [link=https://attacker.example/]x[/link] <script>alert(1)</script> {OSC8} \u202erlo\x00"


def test_printable_drops_controls_keeps_text_and_bounds_length() -> None:
    assert printable(OSC8) == "]8;;https://attacker.example/\\click]8;;\\"
    assert printable("a\tb\nc\x00d\u202ee\x9bf") == "a b cdef"
    assert printable("[/evil] <b>ok</b>") == "[/evil] <b>ok</b>"  # markup is not its business
    assert printable("x" * 300, 256) == "x" * 255 + "…"


@given(st.text())
def test_printable_output_has_no_control_or_reordering_characters(text: str) -> None:
    out = printable(text, 64)
    assert not [c for c in out if unicodedata.category(c) in {"Cc", "Zl", "Zp"} or c in "\u202e\u2066"]
    assert len(out) <= 64


def test_resources_and_findings_hold_no_control_characters() -> None:
    resource = Resource(
        provider=Provider.AWS,
        account_id="111111111111",
        region="us-east-1",
        kind="ec2.instance",
        id="i-1",
        name=HOSTILE,
        tags={"Name\x1b": HOSTILE, "Owner": "x" * 1000},
        attributes={"description": f"made by {OSC8}", "sizeGb": 8},
    )
    assert resource.name is not None
    assert "\x1b" not in resource.name
    assert "[/evil]" in resource.name
    assert resource.tags == {"Name": resource.name, "Owner": "x" * (TAG_MAX - 1) + "…"}
    assert resource.attributes == {"description": f"made by {printable(OSC8)}", "sizeGb": 8}
    assert "\x1b" not in _finding(f"Stop {OSC8}").title


def _finding(title: str) -> Finding:
    """A finding validated with ``title`` (model_copy would skip the validators)."""
    base = finding("i-1", "aws.ec2.idle", Action.STOP, "12.50")
    return Finding.model_validate({**base.model_dump(), "title": title})


def _report(title: str, warning: str) -> Report:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    record = ScanRecord("s-1", "team-a", "prod", "p", "aws", "111111111111", when, when, (), {}, 1)
    return Report(outcomes=[ScanOutcome(record=record, findings=[_finding(title)], warnings=[warning])])


def _rendered_table(report: Report) -> str:
    out = io.StringIO()
    table(report, Console(file=out, width=400, force_terminal=True))  # a terminal: styles are emitted
    return out.getvalue()


def test_the_table_shows_markup_literally_and_emits_no_hyperlink() -> None:
    report = _report(title=f"Stop {HOSTILE}", warning=f"module failed on {HOSTILE}")
    text = _rendered_table(report)
    assert "[/evil] [link=https://attacker.example/]x[/link] <script>" in text
    assert "module failed on [/evil]" in text
    assert "\x1b]8;" not in text  # no OSC-8 hyperlink, from markup or from the tag itself
    assert "\u202e" not in text
    assert "\x00" not in text


def test_a_raw_escape_in_a_table_value_is_dropped_even_if_it_skipped_the_models() -> None:
    report = _report(title="x", warning=OSC8)  # warnings are plain strings, never validated
    assert "\x1b]8;" not in _rendered_table(report)


def test_the_html_report_escapes_every_value() -> None:
    page = to_html(_report(title="Stop <script>alert(1)</script>", warning="w"))
    assert "<script>" not in page
    assert "Stop &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.startswith("<!doctype html>")


def test_the_kubectl_plugin_prints_object_fields_without_controls() -> None:
    obj: dict[str, Any] = {
        "metadata": {"name": "r1"},
        "spec": {"title": f"t {OSC8}", "decision": {"type": "Dismissed", "reason": f"no {OSC8}\x07"}},
    }
    text = kubectl_views.describe(obj)
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "Dismissed by ? at ?: no ]8;;https://attacker.example/\\click]8;;\\" in text
