"""Provider tests against real emulators over HTTP."""
