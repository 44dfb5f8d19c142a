"""RDS DB instance classes: shapes from the EC2 catalogue, the sizes RDS sells, generations.

A DB instance class ``db.<family>.<size>`` has the vCPUs and memory of the EC2 type
``<family>.<size>`` (db.m5.large = m5.large: 2 vCPUs, 8 GiB). RDS does not sell every EC2 size:
never ``metal`` nor ``nano``, and current non-burstable families start at ``large``. Previous-generation
classes and their current successors follow AWS's RDS documentation (families RDS sells, same
architecture): db.m1/m3/m4 -> db.m5, db.m6i; db.m2/r3/r4 -> db.r5, db.r6i; db.t1/t2 -> db.t3.
"""

from __future__ import annotations

from cloudios.modules.aws import catalog

PREFIX = "db."
SMALL_SIZES = frozenset({"nano", "micro", "small", "medium"})
SUCCESSORS: dict[str, tuple[str, ...]] = {
    "m1": ("m5", "m6i"),
    "m3": ("m5", "m6i"),
    "m4": ("m5", "m6i"),
    "m2": ("r5", "r6i"),
    "r3": ("r5", "r6i"),
    "r4": ("r5", "r6i"),
    "t1": ("t3",),
    "t2": ("t3",),
}


def sold(shape: catalog.InstanceType) -> bool:
    """Whether RDS offers this size as a DB instance class."""
    if shape.size.startswith("metal") or shape.size == "nano":
        return False
    # db.m1.small/medium and db.m3.medium were sold; current non-burstable families start at large.
    return shape.burstable or shape.previous_generation or shape.size not in SMALL_SIZES


def describe(db_class: str) -> catalog.InstanceType | None:
    """The shape of a DB instance class (None for unknown classes such as db.serverless)."""
    if not db_class.startswith(PREFIX):
        return None
    shape = catalog.load().get(db_class.removeprefix(PREFIX))
    return shape if shape is not None and sold(shape) else None


def family(name: str) -> list[catalog.InstanceType]:
    """The sizes RDS sells of a family, smallest first."""
    return [t for t in catalog.load().family(name) if sold(t)]


def name(shape: catalog.InstanceType) -> str:
    """The DB instance class of a shape: m5.large -> db.m5.large."""
    return PREFIX + shape.name


def shape(shape: catalog.InstanceType) -> dict[str, object]:
    """How a finding shows a class in current/proposed."""
    return {"dbInstanceClass": name(shape), "vcpu": shape.vcpu, "memoryGib": shape.memory_gib}
