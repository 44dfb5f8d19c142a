"""Security leaf: keyring and keyset, owner-only files, URL credentials, TLS, audit chain, redaction."""
