"""The AWS snapshot's tables: which table prices a usage line, under which key, and in what words.

A region of the snapshot holds one table per EC2 platform (``ec2.<key>``), one per RDS engine and
licence (``rds.<key>``) and one per other service (``ebs``, ``snapshot``, ...). Each table records its
basis or the reason it is empty, so an unpriced finding can say why.
"""

from __future__ import annotations

from cloudios.domain import Usage

OS_NAMES = {"linux": "Linux", "windows": "Windows", "rhel": "RHEL", "suse": "SUSE"}
# SQL Server license-included editions AWS sells pre-installed (``sqlServer`` usage attribute).
SQL_EDITIONS = {"web": "Web", "standard": "Standard", "enterprise": "Enterprise"}
_SQL_PLATFORMS = ("linux", "windows", "rhel")  # AWS sells no SUSE with SQL Server


def ec2_table_key(os_name: str, sql_server: str | None = None) -> str:
    """The EC2 table of a platform: 'linux', 'windows', 'windows-sql-standard'."""
    return f"{os_name}-sql-{sql_server}" if sql_server else os_name


EC2_KEYS = (
    *OS_NAMES,
    *(ec2_table_key(os_name, edition) for os_name in _SQL_PLATFORMS for edition in SQL_EDITIONS),
)

# RDS table key -> words. Single-AZ hourly prices of the engine (and licence model where the engine
# has more than one). Aurora keys hold the Aurora Standard storage configuration; ':aurora-iopt1'
# the I/O-Optimized one.
RDS_ENGINES = {
    "mysql": "MySQL",
    "postgres": "PostgreSQL",
    "mariadb": "MariaDB",
    "aurora-mysql": "Aurora MySQL (Aurora Standard)",
    "aurora-postgresql": "Aurora PostgreSQL (Aurora Standard)",
    "aurora-mysql:aurora-iopt1": "Aurora MySQL (I/O-Optimized)",
    "aurora-postgresql:aurora-iopt1": "Aurora PostgreSQL (I/O-Optimized)",
    "sqlserver-ex": "SQL Server Express (license included)",
    "sqlserver-web": "SQL Server Web (license included)",
    "sqlserver-se": "SQL Server Standard (license included)",
    "sqlserver-ee": "SQL Server Enterprise (license included)",
    "oracle-se2:license-included": "Oracle SE2 (license included)",
    "oracle-se2:bring-your-own-license": "Oracle SE2 (bring your own license)",
    "oracle-ee:bring-your-own-license": "Oracle EE (bring your own license)",
}
# Multi-AZ (one standby) bills twice the Single-AZ instance and storage for these engines; the
# snapshot records that rule for them only, so other engines' Multi-AZ instances are unpriced.
MULTI_AZ_ENGINES = frozenset({"mysql", "postgres"})
_LICENSED = ("oracle", "db2")  # engines whose price depends on the licence model
_AURORA_STORAGE = frozenset({"aurora", "aurora-iopt1"})

OTHER_TABLES = ("ebs", "snapshot", "publicIpv4", "elb", "nat", "rdsStorage")
# Every table a region records a basis or a reason for.
TABLES = (
    *(f"ec2.{key}" for key in EC2_KEYS),
    *(f"rds.{key}" for key in RDS_ENGINES),
    *OTHER_TABLES,
)
_TABLE_OF_SKU = {
    "ebs.volume": "ebs",
    "ebs.iops": "ebs",
    "ebs.throughput": "ebs",
    "ebs.snapshot": "snapshot",
    "ec2.eip": "publicIpv4",
    "elb": "elb",
    "nat.gateway": "nat",
    "rds.storage": "rdsStorage",
}


def ec2_key(attributes: dict[str, str]) -> str:
    """The EC2 table key of an ``ec2.instance`` usage line ({os, sqlServer})."""
    return ec2_table_key(attributes.get("os", "linux"), attributes.get("sqlServer") or None)


def rds_key(attributes: dict[str, str]) -> str | None:
    """The RDS table key of an ``rds.instance`` usage line, or None when an attribute it needs is missing.

    Aurora engines need ``storageType`` (aurora | aurora-iopt1); Oracle and Db2 need ``licenseModel``
    (license-included | bring-your-own-license), as DescribeDBInstances reports them.
    """
    engine = attributes.get("engine", "")
    if engine.startswith("aurora"):
        storage = attributes.get("storageType", "")
        if storage not in _AURORA_STORAGE:
            return None
        return engine if storage == "aurora" else f"{engine}:{storage}"
    if engine.startswith(_LICENSED):
        licence = attributes.get("licenseModel", "")
        return f"{engine}:{licence}" if licence else None
    return engine


def rds_needs(attributes: dict[str, str]) -> str:
    """Which attribute an ``rds.instance`` line lacks for ``rds_key`` (call when it returned None)."""
    engine = attributes.get("engine", "")
    if engine.startswith("aurora"):
        return f"storageType (aurora or aurora-iopt1) for {engine}: the two configurations bill differently"
    return f"licenseModel (license-included or bring-your-own-license) for {engine}: the two bill differently"


def table_of(usage: Usage) -> str:
    """The snapshot table a usage line is priced from: 'ec2.windows', 'rds.mysql', 'ebs', ..."""
    if usage.sku == "ec2.instance":
        return f"ec2.{ec2_key(usage.attributes)}"
    if usage.sku == "rds.instance":
        return f"rds.{rds_key(usage.attributes) or usage.attributes.get('engine', '?')}"
    return _TABLE_OF_SKU.get(usage.sku, usage.sku)


def describe(usage: Usage) -> str:
    """A usage line in words: 'Windows m5.xlarge', 'io2 EBS IOPS', 'RDS mysql db.m5.large'."""
    a = usage.attributes
    if usage.sku == "ec2.instance":
        os_name = a.get("os", "linux")
        platform = OS_NAMES.get(os_name, os_name)
        if edition := a.get("sqlServer"):
            platform += f" with SQL Server {SQL_EDITIONS.get(edition, edition)}"
        return f"{platform} {a.get('instanceType', '?')}"
    if usage.sku.startswith("ebs.") and usage.sku != "ebs.snapshot":
        return f"{a.get('volumeType', '?')} EBS {usage.sku.removeprefix('ebs.')}"
    if usage.sku == "rds.instance":
        engine = a.get("engine", "?")
        key = rds_key(a)
        if key is not None and key != engine:
            engine = key.replace(":", " ")
        multi = " Multi-AZ" if str(a.get("multiAz", "")).lower() in {"true", "1", "yes"} else ""
        return f"RDS {engine} {a.get('dbInstanceClass', '?')}{multi}"
    if usage.sku == "rds.storage":
        return f"RDS {a.get('storageType', '?')} storage"
    if usage.sku == "elb":
        return f"{a.get('type', '?')} load balancer"
    return usage.sku
