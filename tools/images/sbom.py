"""An SPDX 2.3 JSON SBOM per image (syft's shape): Debian packages, the lock's wheels, and cloudios itself."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from tools.images.debian import Package
from tools.images.lock import Locked

NAMESPACE = "https://github.com/cloudios/cloudios/sbom"
CREATOR = "cloudios-tools-images-sbom"


def _spdx_id(kind: str, name: str, version: str) -> str:
    return "SPDXRef-" + re.sub(r"[^A-Za-z0-9.-]", "-", f"{kind}-{name}-{version}")


def _package(spdx_id: str, name: str, version: str, purl: str, **extra: Any) -> dict[str, Any]:
    return {
        "SPDXID": spdx_id,
        "name": name,
        "versionInfo": version,
        "downloadLocation": extra.pop("downloadLocation", "NOASSERTION"),
        "filesAnalyzed": False,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": extra.pop("licenseDeclared", "NOASSERTION"),
        "copyrightText": "NOASSERTION",
        "externalRefs": [
            {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl}
        ],
        **extra,
    }


def _python(p: Locked) -> dict[str, Any]:
    # The wheel actually installed depends on the platform tag; the lock's hashes pin every candidate.
    return _package(
        _spdx_id("Python", p.name, p.version),
        p.name,
        p.version,
        p.purl,
        supplier="NOASSERTION",
        sourceInfo="acquired package info from uv.lock (hash-pinned wheels from PyPI)",
        downloadLocation=p.sdist.url if p.sdist else "NOASSERTION",
    )


def _debian(p: Package) -> dict[str, Any]:
    return _package(
        _spdx_id("DebianPackage", p.name, p.version),
        p.name,
        p.version,
        p.purl,
        supplier=f"Person: {p.field('Maintainer') or 'NOASSERTION'}",
        sourceInfo="acquired package info from DPKG DB: /var/lib/dpkg/status.d/" + p.name,
    )


def document(
    image: str,
    reference: str,
    digest: str,
    *,
    version: str,
    python: Iterable[Locked],
    debs: Iterable[Package],
    epoch: int,
) -> dict[str, Any]:
    """The SBOM of ``reference@digest``; deterministic for the same inputs (created = SOURCE_DATE_EPOCH)."""
    root_id = "SPDXRef-DocumentRoot-Image-" + image
    project = _package(
        _spdx_id("Python", "cloudios", version),
        "cloudios",
        version,
        f"pkg:pypi/cloudios@{version}",
        licenseDeclared="Apache-2.0",
        sourceInfo="this repository (pyproject.toml)",
        downloadLocation="https://github.com/cloudios/cloudios",
    )
    packages = [project, *map(_python, python), *map(_debian, debs)]
    name, _, _ = reference.rpartition(":")
    container = _package(
        root_id,
        name,
        digest,
        f"pkg:oci/{image}@{digest.replace(':', '%3A')}?repository_url={name}",
        primaryPackagePurpose="CONTAINER",
        supplier="Organization: Cloudios",
    )
    created = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    seed = hashlib.sha256(f"{reference}@{digest}".encode()).hexdigest()
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{reference}@{digest}",
        "documentNamespace": f"{NAMESPACE}/{image}-{seed}",
        "creationInfo": {
            "created": created,
            "creators": ["Tool: cloudios-tools-images-sbom", "Organization: Cloudios"],
        },
        "documentDescribes": [root_id],
        "packages": [container, *packages],
        "relationships": [
            {
                "spdxElementId": "SPDXRef-DOCUMENT",
                "relationshipType": "DESCRIBES",
                "relatedSpdxElement": root_id,
            },
            *(
                {"spdxElementId": root_id, "relationshipType": "CONTAINS", "relatedSpdxElement": p["SPDXID"]}
                for p in packages
            ),
        ],
    }
