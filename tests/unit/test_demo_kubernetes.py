"""The operator demo's recorded agent reports are valid under the strict wire contract ingest applies."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tools import demo_kubernetes

from cloudios_agent import wire


def test_the_recorded_reports_are_numbered_valid_wire_reports_with_aws_priced_nodes() -> None:
    reports = demo_kubernetes.recorded_reports(datetime(2026, 11, 30, 12, 34, tzinfo=UTC))
    parsed = [wire.parse_report(json.loads(wire.encode_report(r))) for r in reports]
    assert [r.sequence for r in parsed] == list(range(1, demo_kubernetes.DAYS + 2))
    assert {r.stream for r in parsed} == {demo_kubernetes.STREAM}
    inventory = parsed[0].inventory
    assert inventory is not None
    assert {(n.instance_type, n.region, n.provider_id[:7]) for n in inventory.nodes} == {
        ("m5.xlarge", "us-east-1", "aws:///")
    }
    days = {u.start.date() for r in parsed[1:] for u in r.usage}
    assert len(days) == demo_kubernetes.DAYS
    assert max(days) < datetime(2026, 11, 30, tzinfo=UTC).date()  # whole days only, none partial
