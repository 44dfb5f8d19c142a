"""Shared pytest set-up: fixtures live in tests/support and are registered here, explicitly."""

pytest_plugins = [
    "tests.support.controlplane",
    "tests.support.moto",
    "tests.support.gcp",
    "tests.support.postgres",
    "tests.support.azure",
    "tests.support.prometheus",
]
