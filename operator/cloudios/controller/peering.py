"""kopf peering: are its CRDs installed, does our peering object exist (kopf never creates it), and
our identity, with which the records of this operator's own dead predecessors are removed at start.

kopf keeps a peer's record until its lifetime passes. An operator killed with SIGKILL leaves its
record behind, and a restarted one (a new identity) paused in its favour for up to the lifetime. An
identity naming the host and the process id lets the new process see that a record is its own
predecessor's: same user and host, and that process is gone (or its pid is now ours, as after a
container restart). In a pod the identity is the pod's name, which survives container restarts,
so kopf already knows the record as its own there.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import socket
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from cloudios.services.settings import OperatorSettings
from cloudios.sinks.kube import FORBIDDEN, ApiError, Kube, describe

GROUP, VERSION = "kopf.dev", "v1"
CLUSTER_PLURAL, NAMESPACED_PLURAL = "clusterkopfpeerings", "kopfpeerings"
_LITERAL_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_PROCESS = re.compile(r"^(?P<who>[^/]+)/pid-(?P<pid>[0-9]+)/[0-9]{14}$")

log = logging.getLogger(__name__)


def available(kube: Kube, settings: OperatorSettings) -> bool:
    """Whether the peering resource for our scope is served (API discovery; no CRD read needed)."""
    if not settings.peering.name:
        return False
    return kube.serves(GROUP, VERSION, CLUSTER_PLURAL if settings.clusterwide else NAMESPACED_PLURAL)


def _scopes(settings: OperatorSettings) -> list[str | None]:
    """Where our peering objects live: the cluster, or each literal namespace we watch (a glob's
    KopfPeering objects are created with the namespaces)."""
    if settings.clusterwide:
        return [None]
    return [n for n in settings.namespaces if _LITERAL_NAMESPACE.match(n)]


def _plural(namespace: str | None) -> str:
    return CLUSTER_PLURAL if namespace is None else NAMESPACED_PLURAL


def ensure_objects(kube: Kube, settings: OperatorSettings) -> None:
    """Create the peering object(s) if missing: without one, mandatory peering would never start."""
    assert settings.peering.name
    body = {"apiVersion": f"{GROUP}/{VERSION}", "metadata": {"name": settings.peering.name}}
    try:
        for namespace in _scopes(settings):
            kind = "ClusterKopfPeering" if namespace is None else "KopfPeering"
            kube.create_object(
                GROUP, VERSION, _plural(namespace), {**body, "kind": kind}, namespace=namespace
            )
    except ApiError as exc:
        if exc.status == FORBIDDEN:
            log.warning(
                "may not create the peering object %r (create it with the chart or kubectl); "
                "until it exists this operator stays paused",
                settings.peering.name,
            )
            return
        raise


def process_identity() -> str:
    """``user@host/pid-N/YYYYmmddHHMMSS``: kopf's own shape, with the process id instead of noise."""
    now = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return f"{getpass.getuser()}@{socket.gethostname()}/pid-{os.getpid()}/{now}"


def identity(settings: OperatorSettings) -> str:
    """The peering identity: the pod name in a cluster, else user@host/pid-N/start time."""
    return settings.pod.pod_name or process_identity()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def stale(identities: Iterable[str], me: str, *, alive: Callable[[int], bool] = _alive) -> list[str]:
    """Records of earlier runs of this operator on this host whose process is gone."""
    mine = _PROCESS.match(me)
    if mine is None:
        return []
    found = []
    for other_id in identities:
        other = _PROCESS.match(other_id)
        if other_id == me or other is None or other["who"] != mine["who"]:
            continue
        pid = int(other["pid"])
        if pid == os.getpid() or not alive(pid):
            found.append(other_id)
    return found


def clear_stale(kube: Kube, settings: OperatorSettings, me: str) -> list[str]:
    """Remove our predecessors' records from our peering object(s); returns the identities removed.

    Best effort: any API failure leaves the records to expire as before.
    """
    name = settings.peering.name
    if not name:
        return []
    removed: list[str] = []
    for namespace in _scopes(settings):
        try:
            found = kube.get_object(GROUP, VERSION, _plural(namespace), name, namespace=namespace)
            gone = stale((found or {}).get("status") or {}, me)
            if gone:  # a merge patch's null removes the key
                kube.patch_object(
                    GROUP,
                    VERSION,
                    _plural(namespace),
                    name,
                    {"status": dict.fromkeys(gone)},
                    namespace=namespace,
                )
                removed.extend(gone)
        except ApiError as exc:
            log.warning(
                "could not clean peering %r in %s: %s", name, namespace or "the cluster", describe(exc)
            )
    if removed:
        log.info("removed the peering record(s) of this operator's earlier run(s): %s", ", ".join(removed))
    return removed
