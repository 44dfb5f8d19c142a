"""Orchestration with narrow collaborators: account checks, policy runs, scan Jobs, retention."""
