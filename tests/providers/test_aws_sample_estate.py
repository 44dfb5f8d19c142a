"""The sample estate: its labels match what the collector observes, resource by resource."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest

from cloudios.domain import Metric, MetricSummary, Resource, Snapshot
from cloudios.domain.resource import (
    EBS_SNAPSHOT,
    EBS_VOLUME,
    EC2_INSTANCE,
    EIP,
    ELB,
    NAT_GATEWAY,
    RDS_INSTANCE,
    RDS_SNAPSHOT,
)
from cloudios.emulators.aws import sample_estate as se
from cloudios.providers.aws.collect import collect
from tests.providers.aws_helpers import ALL_KINDS
from tests.support.moto import ACCOUNT_A, AwsEnv, reset_moto

pytestmark = pytest.mark.aws

NEEDS = [
    (EC2_INSTANCE, Metric.CPU_UTILIZATION),
    (EC2_INSTANCE, Metric.NETWORK_IN_BYTES),
    (EC2_INSTANCE, Metric.NETWORK_OUT_BYTES),
    (RDS_INSTANCE, Metric.DB_CONNECTIONS),
    (RDS_INSTANCE, Metric.CPU_UTILIZATION),
    (RDS_INSTANCE, Metric.MEMORY_AVAILABLE_BYTES),
    (EBS_VOLUME, Metric.VOLUME_READ_OPS),
    (EBS_VOLUME, Metric.VOLUME_WRITE_OPS),
    (ELB, Metric.REQUEST_COUNT),
    (NAT_GATEWAY, Metric.NAT_BYTES_OUT),
    (NAT_GATEWAY, Metric.NAT_BYTES_IN),
]
PREVIOUS_GENERATION = ("t2.", "m3.", "m4.", "c3.", "c4.", "r3.", "r4.", "i2.", "d2.", "m1.", "c1.")
GRAVITON_TWINS = ("m5.", "c5.", "r5.", "t3.")  # x86 families with an arm64 type of the same shape
MB = 1024 * 1024
GIB = 1024**3


@pytest.fixture(scope="module")
def estate(moto_server: str) -> Iterator[tuple[se.EstateTruth, Snapshot]]:
    """One seeded region scanned once; the tests only read it."""
    with pytest.MonkeyPatch.context() as patch:
        reset_moto(moto_server)
        patch.setenv("AWS_ENDPOINT_URL", moto_server)
        patch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTBASEKEY00001")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
        truth = se.seed_estate(
            moto_server, seed=7, regions=("us-east-1",), lookback_days=14, account_id=ACCOUNT_A
        )
        request = AwsEnv.request(ACCOUNT_A, kinds=ALL_KINDS, metrics=NEEDS, lookback_days=14, end=truth.end)
        snapshot = collect(request).snapshot
        yield truth, snapshot
        reset_moto(moto_server)


def test_every_resource_is_labelled_once(estate: tuple[se.EstateTruth, Snapshot]) -> None:
    truth, snapshot = estate

    assert sorted(label.resource_id for label in truth.labels) == sorted(r.id for r in snapshot.resources)
    assert truth.backdated
    expected = Counter(label.expected for label in truth.labels)
    for module in (
        se.IDLE,
        se.RIGHTSIZE,
        se.PREVGEN,
        se.UNATTACHED,
        se.GP2,
        se.SNAP_OLD,
        se.STOPPED_VOLUME,
        se.EIP_IDLE,
        se.ELB_IDLE,
        se.RDS_IDLE,
        se.NAT_IDLE,
        se.GRAVITON,
        se.IO_GP3,
        se.LOW_IO,
        se.SNAP_ORPHAN,
        se.RDS_RIGHTSIZE,
        se.RDS_PREVGEN,
        se.RDS_SNAP_OLD,
    ):
        assert expected[module] >= 1, module
    assert expected[None] >= 10


def test_instance_labels_follow_the_observed_cpu(estate: tuple[se.EstateTruth, Snapshot]) -> None:
    truth, snapshot = estate
    labels = {label.resource_id: label for label in truth.labels}

    for instance in snapshot.of_kind(EC2_INSTANCE):
        label = labels[instance.id]
        cpu = snapshot.metric(instance.id, Metric.CPU_UTILIZATION)
        network = snapshot.metric(instance.id, Metric.NETWORK_IN_BYTES)
        kind = instance.attr("instanceType")
        windows = instance.attr("platform") == "windows"
        if label.expected == se.IDLE:
            assert cpu.days_with_data >= 7
            assert max(d.average for d in cpu.daily) < 5
            assert cpu.maximum < 30
            assert max(network.daily_sums) < 1 * MB
        elif label.expected == se.RIGHTSIZE:
            assert cpu.days_with_data >= 7
            assert cpu.maximum * 1.2 <= 50
            assert kind.split(".")[1] in {"2xlarge", "4xlarge"}
        elif label.expected == se.PREVGEN:
            assert kind.startswith(PREVIOUS_GENERATION)
            assert min(d.average for d in cpu.daily) >= 40
        elif label.expected == se.GRAVITON:
            assert kind.startswith(GRAVITON_TWINS)
            assert not windows
            assert cpu.days_with_data >= 7
        else:
            # Nothing to flag: Windows, arm64 or no twin, too little data, or stopped.
            unflagged = windows or not kind.startswith(GRAVITON_TWINS) or cpu.days_with_data < 7
            assert unflagged or instance.attr("state") == "stopped", label
        _check_instance_profile(truth, instance, label.profile, cpu)


def _check_instance_profile(
    truth: se.EstateTruth, instance: Resource, profile: str, cpu: MetricSummary
) -> None:
    if profile == "bursty":
        assert min(d.maximum for d in cpu.daily) >= 88  # a nightly batch every day: not idle
    elif profile == "batch-oversized":
        # Low on average, but a one-hour batch near 92% every day: one size down would not hold it.
        assert cpu.average < 25
        assert min(d.maximum for d in cpu.daily) >= 88
    elif profile == "thin":
        assert cpu.days_with_data == 3
        assert instance.attr("launchTime") > truth.end - timedelta(days=4)
    elif profile.startswith("stopped"):
        assert instance.attr("state") == "stopped"
        stopped_days = (truth.end - instance.attr("stoppedAt")).days
        assert (stopped_days >= se.STOPPED_DAYS) == (profile == "stopped"), stopped_days
    elif profile.startswith("busy"):
        assert cpu.average >= 40
        assert (instance.attr("platform") == "windows") == (profile == "busy-windows")


def test_volume_labels_follow_state_type_and_activity(estate: tuple[se.EstateTruth, Snapshot]) -> None:
    truth, snapshot = estate
    expected = truth.expected()
    instances = {i.id: i for i in snapshot.of_kind(EC2_INSTANCE)}

    for volume in snapshot.of_kind(EBS_VOLUME):
        owner = instances.get(str(volume.attr("attachedTo")))
        ops = [r + w for r, w in zip(*_ops(snapshot, volume.id), strict=True)]
        quiet = len(ops) >= 7 and max(ops) <= se.LOW_IO_OPS_PER_DAY
        if volume.attr("state") == "available":
            assert expected[volume.id] == se.UNATTACHED
        elif owner is not None and owner.attr("state") == "stopped":
            stopped_days = (truth.end - owner.attr("stoppedAt")).days
            assert expected[volume.id] == (se.STOPPED_VOLUME if stopped_days >= se.STOPPED_DAYS else None)
        elif quiet and volume.attr("device") != owner.attr("rootDeviceName"):
            assert expected[volume.id] == se.LOW_IO
        elif volume.attr("volumeType") == "gp2":
            assert expected[volume.id] == se.GP2
        elif volume.attr("volumeType") in {"io1", "io2"}:
            fits = volume.attr("iops") <= 16_000 and not volume.attr("multiAttach")
            assert (expected[volume.id] == se.IO_GP3) is fits
        else:
            assert expected[volume.id] is None
    profiles = {label.profile for label in truth.labels if label.kind == EBS_VOLUME}
    assert {
        "root-quiet",
        "moderate",
        "quiet-thin",
        "io2-20000-busy",
        "io2-5000-multi-attach-busy",
    } <= profiles


def test_snapshot_labels_follow_age_source_and_images(estate: tuple[se.EstateTruth, Snapshot]) -> None:
    truth, snapshot = estate
    expected = truth.expected()

    old = orphaned = 0
    for snap in snapshot.of_kind(EBS_SNAPSHOT):
        age = (truth.end - snap.attr("startTime")).days
        unused = snap.attr("usedByImage") is None
        is_orphan = unused and not snap.attr("sourceVolumeExists") and age > se.ORPHAN_MIN_DAYS
        is_old = unused and not is_orphan and age > se.OLD_SNAPSHOT_DAYS
        old += is_old
        orphaned += is_orphan
        assert (expected[snap.id] == se.SNAP_ORPHAN) is is_orphan
        assert (expected[snap.id] == se.SNAP_OLD) is is_old
    assert old >= 2
    assert orphaned >= 2
    # An AMI maps a snapshot whose source volume does not exist: in use, so neither.
    assert any(
        not s.attr("sourceVolumeExists") and s.attr("usedByImage") and expected[s.id] is None
        for s in snapshot.of_kind(EBS_SNAPSHOT)
    )
    rds_snapshots = snapshot.of_kind(RDS_SNAPSHOT)
    assert {s.attr("cluster") for s in rds_snapshots} == {True, False}
    assert {s.attr("sourceExists") for s in rds_snapshots} == {True, False}
    for snap in rds_snapshots:
        age = (truth.end - snap.attr("createTime")).days
        assert (expected[snap.id] == se.RDS_SNAP_OLD) is (age > se.OLD_SNAPSHOT_DAYS)


def test_database_labels_follow_cpu_memory_connections_and_class(
    estate: tuple[se.EstateTruth, Snapshot],
) -> None:
    truth, snapshot = estate
    labels = {label.resource_id: label for label in truth.labels}

    for db in snapshot.of_kind(RDS_INSTANCE):
        expected, profile = labels[db.id].expected, labels[db.id].profile
        connections = snapshot.metric(db.id, Metric.DB_CONNECTIONS)
        cpu = snapshot.metric(db.id, Metric.CPU_UTILIZATION)
        free = snapshot.metric(db.id, Metric.MEMORY_AVAILABLE_BYTES)
        assert free.days_with_data == cpu.days_with_data
        assert all(d.minimum is not None for d in free.daily)
        assert (expected == se.RDS_IDLE) is (connections.maximum < 1)
        if expected == se.RDS_RIGHTSIZE:
            assert db.attr("multiAz")
            assert cpu.days_with_data >= 7
            assert cpu.maximum * 1.2 <= 50
        assert (expected == se.RDS_PREVGEN) is (db.attr("dbInstanceClass") in {"db.m4.large", "db.t2.medium"})
        if profile == "memory-bound-db":
            assert min(d.minimum for d in free.daily) < 0.1 * 64 * GIB
        elif profile == "batch-db":
            assert min(d.maximum for d in cpu.daily) >= 88
        elif profile == "thin-db":
            assert cpu.days_with_data == 3


def test_network_labels_follow_associations_and_traffic(estate: tuple[se.EstateTruth, Snapshot]) -> None:
    truth, snapshot = estate
    expected = truth.expected()

    for eip in snapshot.of_kind(EIP):
        assert (expected[eip.id] == se.EIP_IDLE) is (eip.attr("associationId") is None)
    for lb in snapshot.of_kind(ELB):
        requests = snapshot.metric(lb.id, Metric.REQUEST_COUNT)
        quiet = lb.attr("registeredTargets") == 0 or (
            requests.days_with_data >= 7 and max(requests.daily_sums) < 100
        )
        assert (expected[lb.id] == se.ELB_IDLE) is quiet
    for nat in snapshot.of_kind(NAT_GATEWAY):
        out = snapshot.metric(nat.id, Metric.NAT_BYTES_OUT).daily_sums
        back = snapshot.metric(nat.id, Metric.NAT_BYTES_IN).daily_sums
        assert (expected[nat.id] == se.NAT_IDLE) is (max(o + i for o, i in zip(out, back, strict=True)) < MB)


def _ops(snapshot: Snapshot, volume_id: str) -> tuple[list[float], list[float]]:
    return (
        snapshot.metric(volume_id, Metric.VOLUME_READ_OPS).daily_sums,
        snapshot.metric(volume_id, Metric.VOLUME_WRITE_OPS).daily_sums,
    )


def test_scoring_counts_hits_misses_and_false_alarms(estate: tuple[se.EstateTruth, Snapshot]) -> None:
    truth, _ = estate
    perfect = [(label.resource_id, label.expected) for label in truth.labels if label.expected]
    busy = next(label.resource_id for label in truth.labels if label.profile == "busy")

    score = truth.score(perfect)
    assert all(score.precision(m) == 1.0 for _, m in perfect)
    assert all(score.recall(m) == 1.0 for _, m in perfect)

    missing_one = truth.score([*perfect[1:], (busy, se.IDLE)])
    assert missing_one.false_negatives[perfect[0][1]] == 1
    assert missing_one.false_positives[se.IDLE] == 1
    assert missing_one.precision(se.IDLE) < 1.0
