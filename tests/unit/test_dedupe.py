"""Dedupe: one finding per resource, removal beats change, totals never double-count."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from cloudios.domain import Action, Category, Confidence, Finding, Money, Provider
from cloudios.pipeline.dedupe import dedupe


def finding(
    resource: str, module: str, action: Action, savings: str, category: Category = Category.IDLE
) -> Finding:
    return Finding(
        id=Finding.make_id(Provider.AWS, "111111111111", "us-east-1", resource, module),
        provider=Provider.AWS,
        account_id="111111111111",
        region="us-east-1",
        resource_type="ec2.instance",
        resource_id=resource,
        module=module,
        category=category,
        action=action,
        title=module,
        confidence=Confidence.HIGH,
        monthly_savings=Money(amount=Decimal(savings)),
    )


def test_idle_wins_over_rightsize_even_when_rightsize_saves_more_on_paper() -> None:
    idle = finding("i-1", "aws.ec2.idle", Action.STOP, "50")
    rightsize = finding("i-1", "aws.ec2.rightsize", Action.RESIZE, "70", Category.RIGHTSIZE)
    kept = dedupe([rightsize, idle])
    assert [f.module for f in kept] == ["aws.ec2.idle"]
    assert kept[0].evidence["supersedes"] == ["aws.ec2.rightsize"]


def test_deleting_an_orphan_wins_over_modernizing_it() -> None:
    orphan = finding("vol-1", "aws.ebs.unattached", Action.DELETE, "10", Category.ORPHANED)
    gp3 = finding("vol-1", "aws.ebs.gp2_to_gp3", Action.MODIFY, "2", Category.MODERNIZE)
    assert [f.module for f in dedupe([gp3, orphan])] == ["aws.ebs.unattached"]


def test_between_two_changes_without_declared_precedence_the_larger_saving_wins() -> None:
    smaller = finding("i-1", "aws.test.resize", Action.RESIZE, "70", Category.RIGHTSIZE)
    newer = finding("i-1", "aws.test.modernize", Action.MODIFY, "20", Category.MODERNIZE)
    assert [f.module for f in dedupe([newer, smaller])] == ["aws.test.resize"]
    larger = newer.model_copy(update={"monthly_savings": Money(amount=Decimal(90))})
    assert [f.module for f in dedupe([larger, smaller])] == ["aws.test.modernize"]


def test_declared_precedence_beats_a_larger_saving_between_changes() -> None:
    rightsize = finding("i-1", "aws.ec2.rightsize", Action.RESIZE, "30", Category.RIGHTSIZE)
    newer = finding("i-1", "aws.ec2.previous_generation", Action.MODIFY, "40", Category.MODERNIZE)
    graviton = finding("i-1", "aws.ec2.graviton", Action.MODIFY, "50", Category.MODERNIZE)
    kept = dedupe([graviton, newer, rightsize])
    assert [f.module for f in kept] == ["aws.ec2.rightsize"]
    assert kept[0].evidence["supersedes"] == ["aws.ec2.graviton", "aws.ec2.previous_generation"]
    assert [f.module for f in dedupe([graviton, newer])] == ["aws.ec2.previous_generation"]


def test_idle_beats_graviton_and_removal_still_beats_any_declared_precedence() -> None:
    idle = finding("i-1", "aws.ec2.idle", Action.STOP, "10")
    graviton = finding("i-1", "aws.ec2.graviton", Action.MODIFY, "50", Category.MODERNIZE)
    assert [f.module for f in dedupe([graviton, idle])] == ["aws.ec2.idle"]
    # A yield declared between a removal and a change cannot make the change win.
    assert [
        f.module for f in dedupe([graviton, idle], {"aws.ec2.idle": frozenset({"aws.ec2.graviton"})})
    ] == ["aws.ec2.idle"]


def test_orphaned_snapshot_finding_wins_over_the_old_snapshot_one() -> None:
    old = finding("snap-1", "aws.ebs.snapshot_old", Action.DELETE, "5", Category.ORPHANED)
    orphaned = finding("snap-1", "aws.ebs.snapshot_orphaned", Action.DELETE, "5", Category.ORPHANED)
    for order in ([old, orphaned], [orphaned, old]):
        kept = dedupe(order)
        assert [f.module for f in kept] == ["aws.ebs.snapshot_orphaned"]
        assert kept[0].evidence["supersedes"] == ["aws.ebs.snapshot_old"]


def test_a_low_activity_volume_is_deleted_not_converted() -> None:
    low = finding("vol-1", "aws.ebs.low_activity", Action.DELETE, "40")
    io = finding("vol-1", "aws.ebs.io_to_gp3", Action.MODIFY, "250", Category.MODERNIZE)
    assert [f.module for f in dedupe([io, low])] == ["aws.ebs.low_activity"]


def test_rds_rightsize_wins_over_its_previous_generation_move_even_unpriced() -> None:
    rightsize = finding("db-1", "aws.rds.rightsize", Action.RESIZE, "0", Category.RIGHTSIZE)
    rightsize = rightsize.model_copy(update={"monthly_savings": None})
    newer = finding("db-1", "aws.rds.previous_generation", Action.MODIFY, "30", Category.MODERNIZE)
    assert [f.module for f in dedupe([newer, rightsize])] == ["aws.rds.rightsize"]


def test_different_resources_are_kept_and_sorted_by_savings() -> None:
    a = finding("i-1", "aws.ec2.idle", Action.STOP, "5")
    b = finding("i-2", "aws.ec2.idle", Action.STOP, "9")
    assert [f.resource_id for f in dedupe([a, b])] == ["i-2", "i-1"]


_actions = st.sampled_from(list(Action))
_modules = st.sampled_from(
    ["aws.ec2.idle", "aws.ec2.rightsize", "aws.ec2.previous_generation", "aws.ec2.graviton"]
)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["i-1", "i-2", "i-3"]),
            _modules,
            _actions,
            st.decimals(min_value=0, max_value=10_000, places=2),
        ),
        max_size=30,
    )
)
def test_one_finding_per_resource_and_total_bounded_by_best_single_finding(
    rows: list[tuple[str, str, Action, Decimal]],
) -> None:
    findings = [finding(r, m, a, str(s)) for r, m, a, s in rows]
    kept = dedupe(findings)
    resources = [f.resource_id for f in kept]
    assert len(resources) == len(set(resources)) == len({f.resource_id for f in findings})
    best = {}
    for f in findings:
        assert f.monthly_savings is not None
        best[f.resource_id] = max(best.get(f.resource_id, Decimal(0)), f.monthly_savings.amount)
    total = sum((f.monthly_savings.amount for f in kept if f.monthly_savings), Decimal(0))
    assert total <= sum(best.values(), Decimal(0))
