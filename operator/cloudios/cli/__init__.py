"""The cloudios and kubectl-cloudios command lines."""
