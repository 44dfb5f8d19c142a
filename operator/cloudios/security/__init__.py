"""Security leaf: keyring, cluster tokens, audit chain, redaction, serving certificates."""
