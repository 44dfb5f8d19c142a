"""Audit verification: the keyed chain, every signed checkpoint, and the external latest one (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cloudios.security.audit import AuditEntry, ChainKey, VerifyResult, verify_chain
from cloudios.security.checkpoints import Checkpoint, check_checkpoint


@dataclass(frozen=True)
class Unreadable:
    """The external checkpoint store held something that is not a checkpoint (garbage, old format)."""

    reason: str


Latest = Checkpoint | Unreadable | None
"""What the external store says is the newest checkpoint: one, garbage, or nothing at all."""


def verify(
    entries: Sequence[AuditEntry],
    checkpoints: Sequence[Checkpoint],
    public_keys: Mapping[str, Ed25519PublicKey],
    chain_key: ChainKey,
    *,
    latest: Latest,
    min_seq: int = 0,
) -> VerifyResult:
    """Chain, then every checkpoint 1..n (trusted key, signature, chaining, coverage, head hash).

    ``checkpoints`` are every copy known (the database's and the store's history); ``latest`` is the
    store's newest, held outside the database, so it must be the newest of all: a shorter log, a
    database copy ahead of it, or no checkpoint at all is a failure. ``min_seq`` is what the
    verifier itself saw before (a witness): the log must still reach it.
    """
    chained, heads = verify_chain(entries, chain_key)
    if not chained.ok:
        return _with_key_hint(
            chained, [*checkpoints, *([latest] if isinstance(latest, Checkpoint) else [])], chain_key
        )
    last = len(heads) - 1
    known = [*checkpoints, *([latest] if isinstance(latest, Checkpoint) else [])]
    by_index: dict[int, Checkpoint] = {}
    for cp in known:
        seen = by_index.setdefault(cp.index, cp)
        if seen != cp:
            return _failed(
                min(seen.first_seq, cp.first_seq),
                f"two different checkpoints claim index {cp.index} (a forged copy or a split view)",
                last,
            )
    newest, walked = _walk(by_index, heads, public_keys, chain_key.key_id)
    if walked is not None:
        return walked
    bad = _against_latest(latest, newest, len(by_index))
    if not bad and last < min_seq:
        bad = f"truncated: the log ends at seq {last} but seq {min_seq} was seen before"
    if bad:
        # Nothing signed vouches for anything past the newest good checkpoint (for no checkpoint: seq 1).
        return _failed(1 if newest is None else min(newest.last_seq, last) + 1, bad, last, newest)
    return VerifyResult(
        ok=True,
        entries=last,
        checkpoints=len(by_index),
        anchored_through=newest.last_seq if newest else 0,
        head_hash=heads[-1].hex(),
    )


def _walk(
    by_index: Mapping[int, Checkpoint],
    heads: Sequence[bytes],
    public_keys: Mapping[str, Ed25519PublicKey],
    chain_key_id: str,
) -> tuple[Checkpoint | None, VerifyResult | None]:
    """Checkpoints 1..n in order against the recomputed heads: (the newest, None) or a failure."""
    last = len(heads) - 1
    previous: Checkpoint | None = None
    for index in range(1, max(by_index, default=0) + 1):
        cp = by_index.get(index)
        if cp is None:
            start = previous.last_seq + 1 if previous else 1
            why = f"checkpoint {index} is missing from the database and the store"
            return previous, _failed(start, why, last, previous)
        bad = check_checkpoint(cp, previous, public_keys, chain_key_id)
        if bad:
            return previous, _failed(cp.first_seq, bad, last, previous)
        if cp.last_seq > last:
            why = f"truncated: checkpoint {cp.index} covers seq {cp.last_seq} but the log ends at {last}"
            return previous, _failed(last + 1, why, last, previous)
        if heads[cp.last_seq].hex() != cp.head_hash:
            why = (
                f"history rewritten: the head at seq {cp.last_seq} differs from signed checkpoint "
                f"{cp.index} (some entry in seq {cp.first_seq}..{cp.last_seq} changed)"
            )
            return previous, _failed(cp.first_seq, why, last, previous)
        previous = cp
    return previous, None


def _against_latest(latest: Latest, newest: Checkpoint | None, recorded: int) -> str:
    """Why the store's latest checkpoint does not vouch for the newest one known, or ""."""
    if isinstance(latest, Unreadable):
        return f"the checkpoint store holds an unreadable checkpoint: {latest.reason}"
    if latest is None:
        if recorded:
            return f"unverifiable: the store is empty but the database records {recorded} checkpoint(s)"
        return "unverifiable: no signed checkpoint anywhere, so truncation or a rewrite cannot be ruled out"
    if newest is not None and latest.index != newest.index:
        return (
            f"the store's latest checkpoint is {latest.index} but the database records checkpoint "
            f"{newest.index}: the store was rolled back or belongs to another log"
        )
    return ""


def _with_key_hint(
    result: VerifyResult, checkpoints: Sequence[Checkpoint], chain_key: ChainKey
) -> VerifyResult:
    """A chain failing at seq 1 is often the wrong key: say so when the checkpoints name another."""
    named = {cp.chain_key_id for cp in checkpoints} - {chain_key.key_id}
    if result.first_bad_seq != 1 or not named:
        return result
    hint = f" (the checkpoints name chain key {', '.join(sorted(named))}, not the key given: the right key?)"
    return replace(result, reason=result.reason + hint)


def _failed(seq: int, reason: str, last: int, previous: Checkpoint | None = None) -> VerifyResult:
    return VerifyResult(
        ok=False,
        first_bad_seq=seq,
        reason=reason,
        entries=last,
        checkpoints=previous.index if previous else 0,
        anchored_through=previous.last_seq if previous else 0,
    )
