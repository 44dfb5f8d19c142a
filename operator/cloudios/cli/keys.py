"""`cloudios keys`: master keyset file (init, add, promote, rotate, retire) and data keys (rewrap, status)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa

from cloudios.security import files, keyset
from cloudios.security.keyring import KeyringError
from cloudios.security.keyset import KeysetError, MasterKeyset
from cloudios.services.settings import KeyringSettings
from cloudios.store import SqlRepository, data_dir
from cloudios.store.secrets import DataKeyStatus

EXIT_OK, EXIT_INPUT = 0, 2
KEYSET_FILE_ENV = "CLOUDIOS_MASTER_KEY_FILE"


class _InputError(Exception):
    """A usage problem reported as one line, exit 2."""


def run(args: argparse.Namespace) -> int:
    try:
        return _COMMANDS[args.keys_command](args)
    except (_InputError, KeysetError, KeyringError, OSError, sa.exc.SQLAlchemyError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_INPUT


def _read(path: str) -> MasterKeyset:
    source = f"keyset file {path}"
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise _InputError(f"{source}: cannot read it: {exc.strerror}") from None
    return keyset.parse(text, source=source)


def _write(path: str, keys: MasterKeyset) -> None:
    files.replace_private(path, keys.to_json())


def _given(args: argparse.Namespace) -> tuple[MasterKeyset | None, str]:
    """The --keyset file, else what the operator would read ($CLOUDIOS_MASTER_KEY_FILE / _KEY)."""
    if args.keyset:
        return _read(args.keyset), f"keyset file {args.keyset}"
    settings = KeyringSettings()
    return settings.keyset, f"{KEYSET_FILE_ENV} {settings.file}" if settings.file else "CLOUDIOS_MASTER_KEY"


def _store(args: argparse.Namespace, keys: MasterKeyset | None) -> SqlRepository:
    if args.database_url:
        return SqlRepository(args.database_url, keyset=keys)
    database = data_dir(args.data_dir) / "cloudios.db"
    if not database.is_file():
        raise _InputError(f"no Cloudios database at {database} (use --data-dir or --database-url)")
    return SqlRepository.sqlite(args.data_dir, keyset=keys)


def _rewrap(args: argparse.Namespace, keys: MasterKeyset) -> int:
    repo = _store(args, keys)
    try:
        return repo.rewrap_data_keys()
    finally:
        repo.close()


def init(args: argparse.Namespace) -> int:
    try:
        fd = files.open_private(args.keyset, os.O_WRONLY | os.O_EXCL)
    except FileExistsError:
        raise _InputError(
            f"{args.keyset} exists: a keyset is never overwritten (add a version: `cloudios keys add`)"
        ) from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(keyset.generate().to_json())
    sys.stdout.write(
        f"wrote {args.keyset} (version 1, owner-only): back it up and keep it out of the database's "
        "reach (a Kubernetes Secret); losing it loses every stored secret\n"
    )
    return EXIT_OK


def add(args: argparse.Namespace) -> int:
    keys = _read(args.keyset).with_new_version(primary=args.primary)
    _write(args.keyset, keys)
    role = "primary" if args.primary else f"not primary yet (primary stays {keys.primary})"
    sys.stdout.write(f"{args.keyset}: added version {max(keys.versions)}, {role}\n")
    return EXIT_OK


def promote(args: argparse.Namespace) -> int:
    keys = _read(args.keyset)
    if args.version is not None and args.version not in keys.keys:
        raise _InputError(f"--version {args.version}: the keyset holds versions {_listed(keys.versions)}")
    keys = keys.promoted(args.version)
    _write(args.keyset, keys)
    sys.stdout.write(f"{args.keyset}: version {keys.primary} is primary; run `cloudios keys rewrap` next\n")
    return EXIT_OK


def rewrap(args: argparse.Namespace) -> int:
    keys, source = _given(args)
    if keys is None:
        raise _InputError(f"no master keyset: pass --keyset FILE or set ${KEYSET_FILE_ENV}")
    changed = _rewrap(args, keys)
    sys.stdout.write(f"rewrapped {changed} data key(s) under version {keys.primary} of {source}\n")
    return EXIT_OK


def rotate(args: argparse.Namespace) -> int:
    keys = _read(args.keyset)
    if not args.no_rewrap:
        _store(args, None).close()  # the store must be there before the keyset changes
    keys = keys.with_new_version(primary=True)
    _write(args.keyset, keys)  # first: a rewrapped data key never depends on a key only in memory
    done = f"{args.keyset}: added version {keys.primary} (primary)"
    if not args.no_rewrap:
        done += f"; rewrapped {_rewrap(args, keys)} data key(s)"
    sys.stdout.write(f"{done}; older versions stay until `cloudios keys retire`\n")
    return EXIT_OK


def retire(args: argparse.Namespace) -> int:
    keys = _read(args.keyset)
    wanted = args.min_version
    if not 1 <= wanted <= keys.primary:
        raise _InputError(f"--min-version {wanted}: must be from 1 to the primary version {keys.primary}")
    repo = _store(args, None)
    try:
        behind = [k for k in repo.data_key_status() if k.master_version < wanted]
    finally:
        repo.close()
    if behind:
        versions = _listed(sorted({k.master_version for k in behind}))
        raise _InputError(
            f"{len(behind)} data key(s) are still wrapped by version(s) {versions}, below {wanted}: "
            "run `cloudios keys rewrap` first (with the new primary rolled out)"
        )
    keys = keys.with_min_version(wanted)
    if args.destroy:
        keys = keys.without_retired()
    _write(args.keyset, keys)
    kept = f"; versions {_listed(keys.versions)} remain" if args.destroy else ""
    sys.stdout.write(f"{args.keyset}: minVersion {wanted}{kept}\n")
    return EXIT_OK


def status(args: argparse.Namespace) -> int:
    keys, source = _given(args)
    repo = _store(args, None)
    try:
        found = repo.data_key_status()
    finally:
        repo.close()
    out = sys.stdout
    if keys is None:
        out.write(f"master keyset: none given (--keyset FILE or ${KEYSET_FILE_ENV})\n")
    else:
        out.write(
            f"master keyset ({source}): versions {_listed(keys.versions)}; primary {keys.primary}; "
            f"minVersion {keys.min_version}\n"
        )
    out.write(f"data keys: {len(found)} across {len({k.tenant for k in found})} tenant(s)\n")
    if found:
        out.write(_table(found))
    if keys is not None:
        behind = [k for k in found if k.master_version != keys.primary]
        if behind:
            out.write(
                f"note: {len(behind)} data key(s) are not wrapped by the primary version "
                f"{keys.primary}: run `cloudios keys rewrap`\n"
            )
    return EXIT_OK


def _table(found: list[DataKeyStatus]) -> str:
    header = ("TENANT", "DATA KEY", "WRAPPED BY", "ENCRYPTIONS", "SECRETS", "CREATED")
    rows = [header] + [
        (
            k.tenant,
            str(k.version),
            f"v{k.master_version}",
            str(k.encryptions),
            str(k.secrets),
            k.created_at.isoformat(timespec="seconds"),
        )
        for k in found
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
    return "".join(f"{line}\n" for line in lines)


def _listed(versions: Iterable[int]) -> str:
    return ", ".join(str(v) for v in versions)


_COMMANDS = {
    "init": init,
    "add": add,
    "promote": promote,
    "rewrap": rewrap,
    "rotate": rotate,
    "retire": retire,
    "status": status,
}
