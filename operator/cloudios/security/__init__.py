"""Security leaf: keyring and master keyset, owner-only files, URL credentials, audit chain, redaction."""
