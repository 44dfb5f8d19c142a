"""Reads the ec2instances.info price data of the Go module github.com/cristim/ec2-instances-info.

The module (public domain; its data are the JSON files instances.vantage.sh serves, compiled by the
vantage-sh/ec2instances.info scraper from AWS's and Azure's public price lists) was fetched from
the public Go module proxy as a zip and unpacked; nothing of it is committed. This reader checks the
unpacked directory against the Go ``h1:`` hash of the pinned version (the hash go.sum records), so a
snapshot is only ever generated from the very files its basis names, then maps the data's own keys
to ours. Every mapping below cites where it comes from; a key no public source maps stays unused.
"""

from __future__ import annotations

import base64
import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

MODULE = "github.com/cristim/ec2-instances-info"
VERSION = "v0.0.0-20250528091325-32acf84f42eb"
# The pseudo-version's commit time, 2025-05-28T09:13:25Z: the data were fetched from
# instances.vantage.sh by that commit (the module's Makefile 'update-data' target).
DATE = "2025-05-28"
ZIP_SHA256 = "649da2a73a2c92508db89eaa3b302734d58ad7a2e89545c367d5fe87516fe09b"
DIRHASH = "h1:exJ9FsMTbotSG5xgDHmFJE84gV3MZ4JRpR8nhbgJz/k="
DOWNLOAD = f"Go module proxy, /{MODULE}/@v/{VERSION}.zip (the GOPROXY protocol path)"
DEFAULT_DIR = Path.home() / ".cache" / "cloudios" / "sources" / f"{MODULE}@{VERSION}"

# The scraper that produced the data at that date (Python, replaced by a Go rewrite in 2025-07):
# vantage-sh/ec2instances.info at its last commit before 2025-05-28.
SCRAPER = "vantage-sh/ec2instances.info"
SCRAPER_COMMIT = "1ca21ce47919e64df8181c12157000f7910a138f"  # 2025-05-26

# instances.json platform key -> our EC2 table key. ec2.py translate_platform_name() builds the
# key from the price list's operatingSystem (Linux -> linux, Windows -> mswin, SUSE -> sles) and
# preInstalledSw (NA -> '', SQL Std -> SQL, SQL Web -> SQLWeb, SQL Ent -> SQLEnterprise); its
# add_pricing() keeps tenancy Shared, capacitystatus Used and licenseModel 'No License required'
# (license included) and skips CapacityBlock offers; the price is the OnDemand term's, formatted by
# format_price() to at most 6 decimal places.
EC2_PLATFORMS = {
    "linux": "linux",
    "mswin": "windows",
    "sles": "suse",
    "linuxSQLWeb": "linux-sql-web",
    "linuxSQL": "linux-sql-standard",
    "linuxSQLEnterprise": "linux-sql-enterprise",
    "mswinSQLWeb": "windows-sql-web",
    "mswinSQL": "windows-sql-standard",
    "mswinSQLEnterprise": "windows-sql-enterprise",
}
EC2_METHOD = (
    f"instances.json pricing.<region>.<platform>.ondemand; platform keys as {SCRAPER} ec2.py "
    f"translate_platform_name() at {SCRAPER_COMMIT[:12]} builds them from the price list's "
    "operatingSystem and preInstalledSw (linux = Linux, mswin = Windows, sles = SUSE; suffix SQL = "
    "SQL Server Standard, SQLWeb = Web, SQLEnterprise = Enterprise); its add_pricing() keeps shared "
    "tenancy, capacity status Used and license-included offers and drops capacity blocks; prices are "
    "rounded by the scraper to 6 decimal places."
)
# RHEL: the same function maps both 'RHEL' and 'Red Hat Enterprise Linux with HA' to 'rhel', so the
# key holds whichever of the two products the scraper read last (us-east-1 m5.24xlarge 6.989 vs
# m5.metal 5.645, same vCPUs and Linux price). No figure of it is used.
RHEL_REASON = (
    f"{MODULE}@{VERSION} has RHEL prices, but {SCRAPER} ec2.py translate_platform_name() (at "
    f"{SCRAPER_COMMIT[:12]}) files 'RHEL' and 'Red Hat Enterprise Linux with HA' under one key, so its "
    "figures mix the two products (us-east-1 m5.24xlarge 6.989 vs m5.metal 5.645 USD/h); none is used. "
    "Run 'cloudios prices refresh' for AWS's own figures"
)

# rds-instances.json keeps each price under AWS's own price-list attributes: rds.py (at
# SCRAPER_COMMIT) writes the Single-AZ OnDemand price under attributes['engineCode'], except Aurora
# 'IO Optimization Mode' SKUs, which it writes under the invented code '211' for Aurora MySQL and
# PostgreSQL alike (so '211' mixes two engines and is not used), and under the ambiguous
# databaseEngine name (not used either). AWS's engine code is the NN of the RDS product operation
# 'CreateDBInstance:00NN' (vantage-sh/ec2instances.info scraper/aws/awsutils/get_rds_license_fees.go
# says so for 11/12/15). Code -> engine, as both public sources below name them:
#   vantage-sh/ec2instances.info next/utils/colunnData/rds.tsx and next/app/aws/rds/[slug]/page.tsx
#     at SCRAPER_COMMIT: 2 MySQL, 14 PostgreSQL, 18 MariaDB, 10/11/12/15 SQL Server Express/Web/
#     Standard/Enterprise, 20 Oracle Standard Two, 19 Oracle Standard Two BYOL, 21 Aurora (one
#     column for Postgres & MySQL), 5 Oracle Enterprise;
#   andrewmcgilvray/ice (a fork of Netflix/ice) src/java/com/netflix/ice/tag/InstanceDb.java at
#     29d6dc0feb3421186ab9ca339396d8472481486b, with AWS's own product descriptions: :0016 'RDS
#     running Amazon Aurora', :0021 'Amazon Aurora PostgreSQL', :0005 'Oracle Enterprise (BYOL)',
#     :0019 'Oracle Standard Two (BYOL)', :0020 'Oracle Standard Two', :0010/11/12/15 SQL Server
#     Express/Web/Standard/Enterprise (license included).
RDS_ENGINES = {
    "2": "mysql",
    "14": "postgres",
    "18": "mariadb",
    "16": "aurora-mysql",
    "21": "aurora-postgresql",
    "10": "sqlserver-ex",
    "11": "sqlserver-web",
    "12": "sqlserver-se",
    "15": "sqlserver-ee",
    "20": "oracle-se2:license-included",
    "19": "oracle-se2:bring-your-own-license",
    "5": "oracle-ee:bring-your-own-license",
}
RDS_METHOD = (
    "rds-instances.json pricing.<region>.<engineCode>.ondemand, Single-AZ (the scraper skips "
    f"Multi-AZ). Engine codes are AWS's (operation CreateDBInstance:00NN); {SCRAPER} rds.py at "
    f"{SCRAPER_COMMIT[:12]} files each price under it, and the code -> engine mapping is the one "
    f"{SCRAPER}'s RDS columns (next/utils/colunnData/rds.tsx, next/app/aws/rds/[slug]/page.tsx) and "
    "andrewmcgilvray/ice src/java/com/netflix/ice/tag/InstanceDb.java (29d6dc0f) give: 2 mysql, "
    "14 postgres, 18 mariadb, 16 aurora-mysql, 21 aurora-postgresql (Aurora Standard storage), "
    "10/11/12/15 sqlserver-ex/web/se/ee (license included), 20 oracle-se2 license included, "
    "19 oracle-se2 BYOL, 5 oracle-ee BYOL. Code 2, 14 and 18 equal the scraper's MySQL, PostgreSQL "
    "and MariaDB name keys in every region and class."
)
AURORA_IO_REASON = (
    f"{MODULE}@{VERSION} files Aurora I/O-Optimized prices of MySQL and PostgreSQL under one "
    f"invented code ('211', {SCRAPER} rds.py at {SCRAPER_COMMIT[:12]}), so neither engine's price "
    "can be told apart; run 'cloudios prices refresh' for AWS's own figures"
)

# azure-instances.json names regions by the slugs of Azure's pricing pages (azure.microsoft.com
# pricing API), not ARM names. ARM name -> slug, from someengineering/fixinventory
# plugins/azure/fix_plugin_azure/resource/compute.py at 0158a0dbab3a10bfe2053d589fe78378a06257a5
# ('pricing_lookup_locations', "Map for matching location between Azure API and pricing API").
# The scraper's own list (meta/regions_azure2.yaml) gives display names only, and swaps South and
# West India, so it is not used. Slugs it lacks (australia-southeast, france-south, germany-north,
# norway-west, uae-central, west-india) stay unmapped.
AZURE_MAPPING_SOURCE = (
    "someengineering/fixinventory plugins/azure/fix_plugin_azure/resource/compute.py at 0158a0db "
    "(pricing_lookup_locations)"
)
AZURE_SLUGS = {
    "australiacentral": "australia-central",
    "australiacentral2": "australia-central-2",
    "australiaeast": "australia-east",
    "brazilsouth": "brazil-south",
    "brazilsoutheast": "brazil-southeast",
    "canadacentral": "canada-central",
    "canadaeast": "canada-east",
    "centralindia": "central-india",
    "centralus": "us-central",
    "eastasia": "asia-pacific-east",
    "eastus": "us-east",
    "eastus2": "us-east-2",
    "francecentral": "france-central",
    "germanywestcentral": "germany-west-central",
    "italynorth": "italy-north",
    "japaneast": "japan-east",
    "japanwest": "japan-west",
    "koreacentral": "korea-central",
    "koreasouth": "korea-south",
    "northcentralus": "us-north-central",
    "northeurope": "europe-north",
    "norwayeast": "norway-east",
    "polandcentral": "poland-central",
    "qatarcentral": "qatar-central",
    "southafricanorth": "south-africa-north",
    "southafricawest": "south-africa-west",
    "southcentralus": "us-south-central",
    "southeastasia": "asia-pacific-southeast",
    "southindia": "south-india",
    "swedencentral": "sweden-central",
    "swedensouth": "sweden-south",
    "switzerlandnorth": "switzerland-north",
    "switzerlandwest": "switzerland-west",
    "uaenorth": "uae-north",
    "uksouth": "united-kingdom-south",
    "ukwest": "united-kingdom-west",
    "usgov-arizona": "usgov-arizona",
    "usgov-texas": "usgov-texas",
    "usgov-virginia": "usgov-virginia",
    "westcentralus": "us-west-central",
    "westeurope": "europe-west",
    "westus": "us-west",
    "westus2": "us-west-2",
    "westus3": "us-west-3",
}


class SourceError(Exception):
    """The source directory is missing or is not the pinned version."""


def dirhash(root: Path, prefix: str) -> str:
    """Go's dirhash.Hash1 of a directory's files, named ``prefix/relative/path`` as in the module zip."""
    files = sorted(f"{prefix}/{p.relative_to(root).as_posix()}" for p in root.rglob("*") if p.is_file())
    summary = hashlib.sha256()
    for name in files:
        digest = hashlib.sha256((root / name.removeprefix(f"{prefix}/")).read_bytes()).hexdigest()
        summary.update(f"{digest}  {name}\n".encode())
    return "h1:" + base64.b64encode(summary.digest()).decode()


def check(directory: Path) -> Path:
    """The directory, once its files are those of the pinned module version."""
    if not (directory / "data" / "instances.json").is_file():
        raise SourceError(
            f"{directory}: no data/instances.json there. Unpack {MODULE}@{VERSION} (from the Go "
            f"module proxy, zip SHA-256 {ZIP_SHA256}) into that directory, or name it with "
            "--ec2-instances-info"
        )
    found = dirhash(directory, f"{MODULE}@{VERSION}")
    if found != DIRHASH:
        raise SourceError(f"{directory}: its files hash to {found}, not {DIRHASH} ({MODULE}@{VERSION})")
    return directory


def load(directory: Path, name: str) -> list[dict[str, Any]]:
    """One data file of the module, numbers read as exact Decimals."""
    data: list[dict[str, Any]] = json.loads(
        (directory / "data" / name).read_text(encoding="utf-8"), parse_float=Decimal
    )
    return data


def price(entry: Any) -> Decimal | None:
    """The positive on-demand price of a pricing entry ({'ondemand': ...}), or None."""
    value = entry.get("ondemand") if isinstance(entry, dict) else None
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number.normalize() if number > 0 else None


def basis(path: str, source: str, method: str) -> dict[str, str]:
    """The recorded basis of a table filled from one data file of the module."""
    return {
        "kind": "sourced",
        "source": source,
        "module": MODULE,
        "version": VERSION,
        "download": DOWNLOAD,
        "sha256": ZIP_SHA256,
        "dirhash": DIRHASH,
        "path": path,
        "date": DATE,
        "method": method,
    }
