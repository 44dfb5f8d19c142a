"""Shared pytest set-up: fixtures live in tests/support and are registered here, explicitly."""

pytest_plugins = [
    "tests.support.controlplane",
    "tests.support.moto",
    "tests.support.azure",
]
