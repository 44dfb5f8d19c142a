"""Service accounts, keys and tokens of the emulator: which token may read which project.

Keys are real RSA keys; the token endpoint verifies the signed JWT assertion (RFC 7523) the way
Google's does, so a wrong or unknown key is refused on the wire.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt


@dataclass
class Accounts:
    """Registered service accounts (email -> public key and projects) and issued tokens."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    public_keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # email -> (key id, PEM)
    projects: dict[str, set[str]] = field(default_factory=dict)  # email -> readable projects
    token_creators: dict[str, set[str]] = field(default_factory=dict)  # target -> who may impersonate
    tokens: dict[str, str] = field(default_factory=dict)  # token -> email

    def create_key(self, email: str, projects: set[str], token_uri: str) -> dict[str, str]:
        """A new service account (or a new key of it) and its JSON key as Google issues it."""
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_id = secrets.token_hex(20)
        public_pem = (
            private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        with self._lock:
            self.public_keys[email] = (key_id, public_pem)
            self.projects.setdefault(email, set()).update(projects)
        project = email.split("@", 1)[1].split(".", 1)[0]
        return {
            "type": "service_account",
            "project_id": project,
            "private_key_id": key_id,
            "private_key": private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode(),
            "client_email": email,
            "client_id": str(secrets.randbelow(10**20)),
            "token_uri": token_uri,
        }

    def allow_impersonation(self, source: str, target: str, projects: set[str]) -> None:
        with self._lock:
            self.token_creators.setdefault(target, set()).add(source)
            self.projects.setdefault(target, set()).update(projects)

    def issue(self, email: str) -> str:
        token = "ya29.emulator-" + secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = email
        return token

    def exchange(self, assertion: str) -> str | None:
        """The token for a signed JWT assertion, or None when the signature or issuer is unknown."""
        email = self.verify(assertion)
        return None if email is None else self.issue(email)

    def verify(self, assertion: str) -> str | None:
        """The issuer of a JWT signed by its registered key, or None."""
        try:
            claims = jwt.decode(assertion, verify=False)
            email = str(claims.get("iss", ""))
            with self._lock:
                known = self.public_keys.get(email)
            if known is None:
                return None
            jwt.decode(assertion, certs={known[0]: known[1]}, verify=True)
        except (ValueError, KeyError):
            return None
        return email

    def who(self, authorization: str | None) -> str | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        token = authorization.removeprefix("Bearer ").strip()
        with self._lock:
            found = self.tokens.get(token)
        if found is None and token.count(".") == 2:  # noqa: PLR2004 - a self-signed JWT (header.claims.signature)
            # Client libraries send service-account keys' self-signed JWTs as access tokens.
            return self.verify(token)
        return found

    def may_read(self, email: str, project: str) -> bool:
        with self._lock:
            return project in self.projects.get(email, set())

    def may_impersonate(self, source: str, target: str) -> bool:
        with self._lock:
            return source in self.token_creators.get(target, set())
