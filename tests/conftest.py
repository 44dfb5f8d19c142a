"""Shared pytest set-up: fixtures live in tests/support and are registered here, explicitly."""

from hypothesis import settings

pytest_plugins = [
    "tests.support.audit_log",
    "tests.support.controlplane",
    "tests.support.moto",
    "tests.support.gcp",
    "tests.support.postgres",
    "tests.support.azure",
    "tests.support.prometheus",
    "tests.support.webhook_receiver",
    "tests.support.verifier_estate",
    "tests.support.verifier_setup",
]

# Properties are checked for correctness, never for speed (speed is measured in bench/): no
# per-example deadline, which only made them flaky on a loaded 2-core machine.
settings.register_profile("cloudios", deadline=None)
settings.load_profile("cloudios")
