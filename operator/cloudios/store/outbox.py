"""The webhook outbox: deliveries enqueued once by id, leased to one worker, delivered or dead-lettered.

Mixed into ``SqlRepository`` (like AgentStore); every method is one transaction of one tenant. A
message's id is the webhook-id of every attempt, so the insert is idempotent (publishing the same
run again enqueues nothing new) and receivers can drop repeats. A lease keeps two workers (a
restart's overlap, a second replica) from sending one message at the same moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from cloudios.store import schema

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
ERROR_MAX = 1000


@dataclass(frozen=True)
class OutboxMessage:
    """One event for one destination (a policy's spec.notifications[destination])."""

    tenant: str
    id: str
    policy: str
    destination: int
    url: str
    secret_name: str
    event: str
    body: str
    created_at: datetime
    deadline: datetime
    attempts: int = 0
    state: str = PENDING
    next_attempt_at: datetime | None = None
    last_error: str = ""


@dataclass(frozen=True)
class OutboxCounts:
    """A policy's messages by state; ``last_dead_error`` explains the newest dead letter."""

    pending: int = 0
    delivered: int = 0
    dead: int = 0
    last_dead_error: str = ""
    last_dead_event: str = ""
    latest_finished: str = ""
    """The state (delivered or dead) of the message that finished last."""


def _message(row: sa.Row[tuple[object, ...]]) -> OutboxMessage:
    return OutboxMessage(
        tenant=row.tenant,
        id=row.id,
        policy=row.policy,
        destination=row.destination,
        url=row.url,
        secret_name=row.secret_name,
        event=row.event,
        body=row.body,
        created_at=row.created_at,
        deadline=row.deadline,
        attempts=row.attempts,
        state=row.state,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
    )


def enqueue(conn: sa.Connection, messages: Sequence[OutboxMessage]) -> int:
    """Insert the messages whose id is not there yet (in the caller's transaction); how many were new."""
    t = schema.webhook_outbox
    added = 0
    for m in messages:
        exists = conn.scalar(sa.select(sa.func.count()).where(t.c.tenant == m.tenant, t.c.id == m.id))
        if exists:
            continue
        conn.execute(
            t.insert().values(
                tenant=m.tenant, id=m.id, policy=m.policy, destination=m.destination, url=m.url,
                secret_name=m.secret_name, event=m.event, body=m.body, state=PENDING, attempts=0,
                created_at=m.created_at, next_attempt_at=m.next_attempt_at or m.created_at,
                deadline=m.deadline, leased_until=None, finished_at=None, last_error="",
            )
        )  # fmt: skip
        added += 1
    return added


def claim_due(
    conn: sa.Connection, tenant: str, policy: str, *, now: datetime, lease: timedelta, limit: int
) -> list[OutboxMessage]:
    """Pending messages due now and not leased by another worker, oldest first, now leased to the caller."""
    t = schema.webhook_outbox
    free = sa.or_(t.c.leased_until.is_(None), t.c.leased_until <= now)
    mine = (t.c.tenant == tenant, t.c.policy == policy, t.c.state == PENDING)
    rows = conn.execute(
        sa.select(t)
        .where(*mine, t.c.next_attempt_at <= now, free)
        .order_by(t.c.created_at, t.c.id)
        .limit(limit)
    ).all()
    claimed = []
    for row in rows:
        taken = conn.execute(
            t.update().where(*mine, t.c.id == row.id, free).values(leased_until=now + lease)
        ).rowcount
        if taken == 1:
            claimed.append(_message(row))
    return claimed


def delivered(conn: sa.Connection, tenant: str, msg_id: str, *, now: datetime) -> None:
    t = schema.webhook_outbox
    conn.execute(
        t.update()
        .where(t.c.tenant == tenant, t.c.id == msg_id)
        .values(state=DELIVERED, attempts=t.c.attempts + 1, finished_at=now, leased_until=None, last_error="")
    )


def failed(
    conn: sa.Connection, tenant: str, msg_id: str, *, now: datetime, error: str, retry_at: datetime | None
) -> None:
    """An attempt failed: retry at ``retry_at``, or (None) the message is a dead letter."""
    t = schema.webhook_outbox
    values: dict[str, object] = {
        "attempts": t.c.attempts + 1, "leased_until": None, "last_error": error[:ERROR_MAX],
    }  # fmt: skip
    if retry_at is None:
        values.update(state=DEAD, finished_at=now)
    else:
        values.update(next_attempt_at=retry_at)
    conn.execute(t.update().where(t.c.tenant == tenant, t.c.id == msg_id).values(**values))


def counts(conn: sa.Connection, tenant: str, policy: str) -> OutboxCounts:
    t = schema.webhook_outbox
    mine = (t.c.tenant == tenant, t.c.policy == policy)
    query = sa.select(t.c.state, sa.func.count()).where(*mine).group_by(t.c.state)
    by_state: dict[str, int] = {str(state): int(n) for state, n in conn.execute(query)}
    last = conn.execute(
        sa.select(t.c.event, t.c.last_error)
        .where(*mine, t.c.state == DEAD)
        .order_by(t.c.finished_at.desc())
        .limit(1)
    ).first()
    latest = conn.scalar(
        sa.select(t.c.state).where(*mine, t.c.state != PENDING).order_by(t.c.finished_at.desc()).limit(1)
    )
    return OutboxCounts(
        latest_finished=latest or "",
        pending=by_state.get(PENDING, 0),
        delivered=by_state.get(DELIVERED, 0),
        dead=by_state.get(DEAD, 0),
        last_dead_error=last.last_error if last else "",
        last_dead_event=last.event if last else "",
    )


def messages(conn: sa.Connection, tenant: str, policy: str | None = None) -> list[OutboxMessage]:
    t = schema.webhook_outbox
    query = sa.select(t).where(t.c.tenant == tenant)
    if policy is not None:
        query = query.where(t.c.policy == policy)
    return [_message(r) for r in conn.execute(query.order_by(t.c.created_at, t.c.id))]


def purge(conn: sa.Connection, *, before: datetime) -> int:
    """Delivered messages and dead letters finished before ``before`` (any tenant: maintenance)."""
    t = schema.webhook_outbox
    return conn.execute(t.delete().where(t.c.state != PENDING, t.c.finished_at < before)).rowcount


class OutboxStore:
    """The outbox over SqlRepository's tenant transactions."""

    def tenant_transaction(self, tenant: str) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    def enqueue_webhooks(self, tenant: str, messages: Sequence[OutboxMessage]) -> int:
        """Enqueue every message in one transaction; a message whose id is stored already is skipped."""
        if any(m.tenant != tenant for m in messages):
            raise ValueError("every message must belong to the transaction's tenant")
        with self.tenant_transaction(tenant) as conn:
            return enqueue(conn, messages)

    def claim_webhooks(
        self, tenant: str, policy: str, *, now: datetime, lease: timedelta, limit: int = 20
    ) -> list[OutboxMessage]:
        with self.tenant_transaction(tenant) as conn:
            return claim_due(conn, tenant, policy, now=now, lease=lease, limit=limit)

    def webhook_delivered(self, tenant: str, msg_id: str, *, now: datetime) -> None:
        with self.tenant_transaction(tenant) as conn:
            delivered(conn, tenant, msg_id, now=now)

    def webhook_failed(
        self, tenant: str, msg_id: str, *, now: datetime, error: str, retry_at: datetime | None
    ) -> None:
        with self.tenant_transaction(tenant) as conn:
            failed(conn, tenant, msg_id, now=now, error=error, retry_at=retry_at)

    def webhook_counts(self, tenant: str, policy: str) -> OutboxCounts:
        with self.tenant_transaction(tenant) as conn:
            return counts(conn, tenant, policy)

    def webhook_messages(self, tenant: str, policy: str | None = None) -> list[OutboxMessage]:
        with self.tenant_transaction(tenant) as conn:
            return messages(conn, tenant, policy)
