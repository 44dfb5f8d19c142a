"""Kubernetes CloudAccounts: their agent token (minted, rotated, revoked, kept in a Secret) and
whether their agent reports — what a credential check is for the other providers.

Level-based: the same object, store and Secret always converge to the same token state, so the
reconcile, the health-check timer and the agent timer may all run it. The token exists in clear
only here, for the moment it is written into the Secret; it never reaches a log, an Event, the
status or an exception message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cloudios.api import CloudAccount, CloudAccountStatus
from cloudios.api.objects import status_patch
from cloudios.pipeline.health import ProbeResult
from cloudios.security import cluster_tokens
from cloudios.security.keyring import KeyringError
from cloudios.services.settings import AgentSettings
from cloudios.sinks import token_secrets
from cloudios.sinks.kube import FORBIDDEN, ApiError, Kube, describe
from cloudios.sinks.notices import Notice, reference
from cloudios.store.agent_reports import AgentActivity
from cloudios.store.cluster_tokens import LiveTokenExistsError, TokenRecord
from cloudios.store.repository import Repository
from cloudios.store.secrets import NoMasterKeyError

log = logging.getLogger(__name__)

ROTATE = "cloudios.io/rotate-token"
"""Set (or change) to any value: a new token goes into the Secret; the old one works for the overlap."""
REVOKE = "cloudios.io/revoke-token"
"""Set to any value: every token of the account stops working; remove it to mint a new one."""
REPORTING, NOT_REPORTING, REVOKED = "AgentReporting", "AgentNotReporting", "TokenRevoked"
DOCS = "docs/agent-ingest.md"


def failed(reason: str, message: str) -> ProbeResult:
    return ProbeResult(ok=False, reason=reason, message=message)


@dataclass
class TokenState:
    """Where the account's token stands after converging, and what to tell the user."""

    secret: str
    live: TokenRecord | None = None
    revoked: bool = False
    problem: ProbeResult | None = None
    events: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class AgentCheck:
    """A kubernetes account's check: the result (conditions), status fields and Events."""

    result: ProbeResult
    status: dict[str, Any]
    notices: list[Notice]


def converge_token(
    store: Repository,
    kube: Kube,
    body: Mapping[str, Any],
    account: CloudAccount,
    *,
    now: datetime,
    overlap: timedelta,
) -> TokenState:
    """Mint, rotate or revoke the account's token and make its Secret hold the live one. Blocking."""
    namespace, name = account.metadata.namespace, account.metadata.name
    state = TokenState(secret=token_secrets.name_for(name))
    annotations = account.metadata.annotations
    try:
        if annotations.get(REVOKE):
            _revoke(store, kube, body, state, now=now)
            return state
        token = _ensure_live(store, account, state, now=now, overlap=overlap)
        _sync_secret(store, kube, body, state, token)
    except NoMasterKeyError as exc:
        state.problem = failed("MasterKeyMissing", f"cannot keep the agent token encrypted: {exc}")
    except KeyringError as exc:  # a stored token that no longer decrypts (another master key?)
        state.problem = failed("TokenUnreadable", f"the stored agent token cannot be decrypted: {exc}")
    except ApiError as exc:
        state.problem = failed(
            "TokenSecretForbidden" if exc.status == FORBIDDEN else "TokenSecretFailed",
            f"the operator could not read or write Secret '{state.secret}' in namespace '{namespace}' "
            f"({describe(exc)}): it needs get, create and patch on secrets (the Helm chart grants them).",
        )
    log.debug("agent token of %s/%s converged (secret %s)", namespace, name, state.secret)
    return state


def _revoke(
    store: Repository, kube: Kube, body: Mapping[str, Any], state: TokenState, *, now: datetime
) -> None:
    meta = body.get("metadata", {})
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    state.revoked = True
    if store.revoke_cluster_tokens(namespace, name, now=now):
        state.events.append(("TokenRevoked", f"every agent token of this account was revoked ({REVOKE})."))
    view = token_secrets.read(kube, namespace, state.secret, account=name)
    if view is not None and view.ours and view.token_id:
        token_secrets.put(kube, namespace, state.secret, owner=body, token=None, token_id="")


def _ensure_live(
    store: Repository, account: CloudAccount, state: TokenState, *, now: datetime, overlap: timedelta
) -> str | None:
    """The live token record in ``state``; returns the token when it was minted just now."""
    namespace, name = account.metadata.namespace, account.metadata.name
    assert account.spec.kubernetes is not None  # kubernetes accounts only
    cluster = account.spec.kubernetes.cluster_name
    live = store.cluster_token(namespace, name)
    asked = account.metadata.annotations.get(ROTATE, "")
    rotate = live is not None and ((asked and asked != live.rotation) or live.cluster != cluster)
    if live is not None and not rotate:
        state.live = live
        return None
    token = cluster_tokens.mint()
    try:
        state.live = store.add_cluster_token(
            tenant=namespace,
            account_name=name,
            cluster=cluster,
            token=token,
            rotation=asked or (live.rotation if live else ""),
            replaces=live.id if live else None,
            now=now,
            overlap=overlap,
        )
    except LiveTokenExistsError:  # another writer minted it; its Secret write wins too
        state.live = store.cluster_token(namespace, name)
        return None
    if live is None:
        state.events.append(
            ("TokenCreated", f"an agent token for cluster '{cluster}' is in Secret '{state.secret}'.")
        )
    else:
        until = (now + overlap).isoformat(timespec="seconds")
        message = f"a new agent token is in Secret '{state.secret}'; the previous one works until {until}."
        state.events.append(("TokenRotated", message))
    return token


def _sync_secret(
    store: Repository, kube: Kube, body: Mapping[str, Any], state: TokenState, token: str | None
) -> None:
    live = state.live
    if live is None:
        return
    namespace, name = live.tenant, live.account_name
    view = token_secrets.read(kube, namespace, state.secret, account=name)
    if view is not None and view.token_id == live.id and view.ours:
        return  # already right: never rewritten
    if view is not None and not view.ours:
        state.problem = failed(
            "TokenSecretConflict",
            f"Secret '{state.secret}' exists and is not Cloudios's, so the agent token cannot be written "
            "there: rename or delete that Secret.",
        )
        return
    value = token or store.reveal_cluster_token(namespace, live.id)
    if value is None:
        return
    if view is None:
        token_secrets.create(kube, namespace, state.secret, owner=body, token=value, token_id=live.id)
    else:
        token_secrets.put(kube, namespace, state.secret, owner=body, token=value, token_id=live.id)


def probe(
    account: CloudAccount,
    state: TokenState,
    activity: AgentActivity | None,
    *,
    now: datetime,
    settings: AgentSettings,
) -> ProbeResult:
    """Whether the agent reported within the window; the message says what to do next."""
    if state.problem is not None:
        return state.problem
    assert account.spec.kubernetes is not None
    cluster = account.spec.kubernetes.cluster_name
    if state.revoked:
        return failed(
            REVOKED,
            f"the agent tokens of this account are revoked (annotation {REVOKE}); remove the annotation "
            f"to mint a new one into Secret '{state.secret}' and give it to the agent ({DOCS}).",
        )
    where = f" at {settings.ingest_url}" if settings.ingest_url else ""
    if activity is None:
        return failed(
            NOT_REPORTING,
            f"no report from the agent of cluster '{cluster}' yet: install the Cloudios agent in that "
            f"cluster with the cluster token from Secret '{state.secret}' (key 'token') of this "
            f"namespace, reporting to ingest{where} ({DOCS}, Installing the agent).",
        )
    last = activity.last_report_at.isoformat(timespec="seconds")
    window = timedelta(seconds=settings.reporting_window_seconds)
    if now - activity.last_report_at > window:
        return failed(
            NOT_REPORTING,
            f"the agent of cluster '{cluster}' last reported at {last}, more than "
            f"{window.total_seconds():.0f}s ago: check its pods and logs in that cluster and that it "
            f"reaches ingest{where}; after a rotation give it the token from Secret '{state.secret}'.",
        )
    version = activity.agent_version or "unknown"
    return ProbeResult(
        ok=True,
        reason=REPORTING,
        message=f"the agent of cluster '{cluster}' (version {version}) reported at {last}; scans may run.",
        identity=cluster,
    )


async def check(
    store: Repository,
    kube: Kube,
    body: Mapping[str, Any],
    account: CloudAccount,
    *,
    now: datetime,
    settings: AgentSettings,
) -> AgentCheck:
    """The kubernetes account's whole check, in worker threads."""
    overlap = timedelta(hours=settings.token_overlap_hours)
    state = await asyncio.to_thread(converge_token, store, kube, body, account, now=now, overlap=overlap)
    assert account.spec.kubernetes is not None  # kubernetes accounts only
    activity = await asyncio.to_thread(
        store.agent_activity, account.metadata.namespace, account.spec.kubernetes.cluster_name
    )
    result = probe(account, state, activity, now=now, settings=settings)
    status = CloudAccountStatus(agent_install_ref=state.secret)
    if activity is not None:
        status = CloudAccountStatus(
            agent_install_ref=state.secret, last_report_at=activity.last_report_at.replace(microsecond=0)
        )
    notices = [
        Notice(obj=reference(body), type="Warning" if reason == "TokenRevoked" else "Normal", reason=reason,
               message=message)
        for reason, message in state.events
    ]  # fmt: skip
    return AgentCheck(result, status_patch(status), notices)
