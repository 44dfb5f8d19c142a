"""The latest signed audit checkpoint (and the one before) in a ConfigMap, outside the database."""

from __future__ import annotations

from dataclasses import dataclass

from cloudios.security.audit import AuditFormatError
from cloudios.security.checkpoints import Checkpoint, CheckpointConflictError
from cloudios.sinks.kube import Kube, StaleObjectError

DEFAULT_NAME = "cloudios-audit-checkpoints"
LATEST, PREVIOUS = "latest.json", "previous.json"
_LABELS = {"app.kubernetes.io/part-of": "cloudios", "app.kubernetes.io/component": "audit-checkpoints"}


@dataclass
class ConfigMapCheckpoints:
    """One ConfigMap per log: ``latest.json`` and ``previous.json``, replaced by resourceVersion.

    The latest carries the previous one's signature, so serving an older checkpoint breaks the
    chain against the database's copies; every checkpoint is also recorded in the database.
    """

    kube: Kube
    namespace: str
    name: str = DEFAULT_NAME

    def describe(self) -> str:
        return f"ConfigMap {self.namespace}/{self.name}"

    def _read(self) -> tuple[dict[str, str], str] | None:
        return self.kube.config_map(self.namespace, self.name)

    def latest(self) -> Checkpoint | None:
        found = self._read()
        if found is None:
            return None
        data, _ = found
        if LATEST not in data:
            raise AuditFormatError(f"{self.describe()} has no {LATEST}")
        return Checkpoint.from_json(data[LATEST])

    def history(self) -> list[Checkpoint]:
        found = self._read()
        if found is None:
            return []
        data, _ = found
        return [Checkpoint.from_json(data[key]) for key in (PREVIOUS, LATEST) if data.get(key)]

    def publish(self, checkpoint: Checkpoint, *, replacing: Checkpoint | None) -> None:
        found = self._read()
        current = Checkpoint.from_json(found[0][LATEST]) if found and found[0].get(LATEST) else None
        if current != replacing:
            raise CheckpointConflictError(f"{self.describe()}: the latest checkpoint changed")
        data = {LATEST: checkpoint.to_json()}
        if replacing is not None:
            data[PREVIOUS] = replacing.to_json()
        try:
            self.kube.write_config_map(
                self.namespace,
                self.name,
                data,
                resource_version=found[1] if found else None,
                labels=dict(_LABELS),
            )
        except StaleObjectError as exc:
            raise CheckpointConflictError(str(exc)) from None
