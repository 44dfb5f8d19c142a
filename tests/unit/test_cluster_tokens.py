"""Cluster token format: prefix, 256 random bits, a checksum that catches typos, redaction knows it."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from cloudios.security import cluster_tokens
from cloudios.security.prefixes import CLUSTER_TOKEN_PREFIX
from cloudios.security.redaction import redact


def test_a_minted_token_has_the_prefix_length_and_a_valid_checksum() -> None:
    tokens = {cluster_tokens.mint() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert token.startswith(CLUSTER_TOKEN_PREFIX + "agt_")
        assert len(token) == cluster_tokens.LENGTH == 57
        assert cluster_tokens.well_formed(token)
        assert cluster_tokens.digest(token) == hashlib.sha256(token.encode()).hexdigest()


@given(st.data())
def test_any_single_character_typo_is_caught_before_a_lookup(data: st.DataObject) -> None:
    token = cluster_tokens.mint()
    at = data.draw(st.integers(min_value=len(cluster_tokens.PREFIX), max_value=len(token) - 1))
    other = data.draw(st.sampled_from([c for c in cluster_tokens.ALPHABET if c != token[at]]))
    assert not cluster_tokens.well_formed(token[:at] + other + token[at + 1 :])


def test_malformed_tokens_are_refused() -> None:
    token = cluster_tokens.mint()
    for bad in ("", token[:-1], token + "0", "ghp_" + token[4:], token.replace("agt_", "xyz_"),
                token[:-7] + "!" + token[-6:], "cld_agt_" + "0" * 49):  # fmt: skip
        assert not cluster_tokens.well_formed(bad), bad


def test_redaction_masks_a_token_wherever_it_appears() -> None:
    token = cluster_tokens.mint()
    for text in (token, f"Authorization: Bearer {token}", f"token={token}!", f'{{"token": "{token}"}}'):
        assert token not in redact(text)
        assert token[len(cluster_tokens.PREFIX) :] not in redact(text)
