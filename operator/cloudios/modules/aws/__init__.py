"""AWS optimization modules; the registry (cloudios.modules.registry) lists them explicitly."""
