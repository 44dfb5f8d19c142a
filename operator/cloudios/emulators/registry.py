"""The explicit emulator table: provider name -> start its local stand-in with the sample estate."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from cloudios.emulators.base import EstateOptions, Progress, RunningEmulator, Start


def _aws() -> Start:
    from cloudios.emulators.aws import demo  # noqa: PLC0415 - moto and boto3 come with the aws and dev extras

    return demo.start


def _gcp() -> Start:
    from cloudios.emulators.gcp import demo  # noqa: PLC0415 - grpc and google-cloud-* come with the gcp extra

    return demo.start


def _azure() -> Start:
    from cloudios.emulators.azure import demo  # noqa: PLC0415 - the Azure SDK comes with the azure extra

    return demo.start


# provider -> loader of its entry; loaded on use, since each emulator needs optional extras.
EMULATORS: dict[str, Callable[[], Start]] = {
    "aws": _aws,
    "gcp": _gcp,
    "azure": _azure,
}


class EmulatorError(Exception):
    """No emulator can start for this provider; the message says why and what to do."""


def providers() -> tuple[str, ...]:
    """The providers that have an emulator, in table order."""
    return tuple(EMULATORS)


def _silent(_line: str) -> None:
    pass


@contextmanager
def running(
    provider: str, options: EstateOptions | None = None, progress: Progress = _silent
) -> Iterator[RunningEmulator]:
    """``provider``'s emulator, started and seeded with its sample estate, for the ``with`` block.

    The emulator's environment (its SDK's endpoint settings) is set in ``os.environ`` for the block
    and restored afterwards; then the emulator stops. Raises EmulatorError before starting when
    the provider has no emulator or its extras are not installed.
    """
    load = EMULATORS.get(provider)
    if load is None:
        raise EmulatorError(
            f"no local emulator for provider '{provider}' yet; available: {', '.join(EMULATORS)}"
        )
    try:
        start = load()
    except ImportError as exc:
        extras = f"{provider} and dev extras (missing {exc.name})"
        raise EmulatorError(f"the {provider} emulator needs the {extras}; run `make demo`") from None
    emulator = start(options or EstateOptions(), progress)
    saved = {name: os.environ.get(name) for name in emulator.environment}
    os.environ.update(emulator.environment)
    try:
        yield emulator
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        emulator.stop()
