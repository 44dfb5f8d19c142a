"""`python -m cloudios.controller`: run the Cloudios operator with settings from CLOUDIOS_* variables."""

from __future__ import annotations

import os
import sys

from cloudios.services.settings import OperatorSettings, SettingsError


def main() -> int:
    try:
        settings = OperatorSettings.from_env(os.environ)
        # Imported after the settings check so a typo fails fast, before kopf and the SDKs load.
        from cloudios.services import scan_jobs  # noqa: PLC0415

        job_environment = scan_jobs.inherited_environment(settings, os.environ)
    except SettingsError as exc:
        sys.stderr.write(f"cloudios operator: bad configuration: {exc}\n")
        return 2
    from cloudios.controller import runner  # noqa: PLC0415

    try:
        runner.run(settings, job_environment)
    except SettingsError as exc:  # found while starting: missing or unreadable audit keys, say
        sys.stderr.write(f"cloudios operator: bad configuration: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
