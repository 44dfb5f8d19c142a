"""Webhook rules without I/O: Standard Webhooks signatures, the SSRF guard, admission, backoff bounds."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudios.api.admission import notification_problems
from cloudios.security import urls, webhook_signing
from cloudios.services.webhook_delivery import backoff_delay

# The example of the Standard Webhooks specification's reference libraries (their test suites).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID, SPEC_TS = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_specifications_example() -> None:
    key = webhook_signing.parse_secret(SPEC_SECRET)
    assert webhook_signing.signature(key, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE


@given(body=st.binary(max_size=512), msg_id=st.from_regex(r"msg_[A-Za-z0-9]{1,30}", fullmatch=True))
def test_signature_is_hmac_sha256_over_id_timestamp_body(body: bytes, msg_id: str) -> None:
    secret = webhook_signing.generate_secret()
    key = base64.b64decode(secret[len("whsec_") :])
    headers = webhook_signing.headers([key], msg_id, 1_700_000_000, body)
    expected = hmac.new(key, f"{msg_id}.1700000000.".encode() + body, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()
    assert headers["webhook-id"] == msg_id


def test_two_keys_give_two_space_delimited_signatures() -> None:
    keys = [webhook_signing.parse_secret(webhook_signing.generate_secret()) for _ in range(2)]
    value = webhook_signing.headers(keys, "msg_1", 1, b"{}")["webhook-signature"]
    assert [s.split(",")[0] for s in value.split(" ")] == ["v1", "v1"]


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must start with 'whsec_'"),
        ("whsec_not base64!", "followed by base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "24 to 64 bytes"),
    ],
)
def test_malformed_secrets_are_refused_without_echoing_them(secret: str, message: str) -> None:
    with pytest.raises(webhook_signing.SecretFormatError, match=message) as caught:
        webhook_signing.parse_secret(secret)
    assert secret.removeprefix("whsec_") not in str(caught.value)


REFUSED = {
    "http": "http://hooks.example.com/",
    "no host": "https:///x",
    "aws metadata": "https://169.254.169.254/latest/meta-data/",
    "aws metadata v6": "https://[fd00:ec2::254]/",
    "alibaba metadata": "https://100.100.100.200/",
    "gcp metadata": "https://metadata.google.internal/computeMetadata/v1/",
    "gcp metadata dot": "https://metadata.google.internal./",
    "link-local": "https://169.254.1.1/",
    "link-local v6": "https://[fe80::1]/",
    "loopback": "https://127.0.0.1/",
    "loopback decimal": "https://2130706433/",
    "loopback hex": "https://0x7f.0.0.1/",
    "loopback v6": "https://[::1]/",
    "loopback mapped": "https://[::ffff:127.0.0.1]/",
    "localhost": "https://localhost/",
    "unspecified": "https://0.0.0.0/",
    "unspecified v6": "https://[::]/",
    "multicast": "https://224.0.0.1/",
    "multicast v6": "https://[ff02::1]/",
    "reserved": "https://240.0.0.1/",
    "broadcast": "https://255.255.255.255/",
    "private 10": "https://10.0.0.1/",
    "private 172": "https://172.16.0.1/",
    "private 192": "https://192.168.1.1/",
    "unique-local": "https://[fd12:3456::1]/",
    "cgnat": "https://100.64.0.1/",
    "credentials": "https://user:pass@hooks.example.com/",
}


@pytest.mark.parametrize("url", REFUSED.values(), ids=REFUSED.keys())
def test_every_refused_address_class_is_refused(url: str) -> None:
    assert urls.webhook_url_problem(url, allow_private=False) is not None


@pytest.mark.parametrize(
    "url", ["https://10.0.0.1/", "https://[fd12:3456::1]/", "https://192.168.1.1:8443/x"]
)
def test_private_ranges_only_where_allowed(url: str) -> None:
    assert urls.webhook_url_problem(url, allow_private=True) is None


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1/", "https://169.254.169.254/", "https://[fd00:ec2::254]/", "https://[::1]/"]
)
def test_loopback_link_local_and_metadata_stay_refused_even_where_private_is_allowed(url: str) -> None:
    assert urls.webhook_url_problem(url, allow_private=True) is not None


@pytest.mark.parametrize("url", ["https://hooks.example.com/cloudios", "https://8.8.8.8:8443/x?a=1"])
def test_public_https_urls_pass(url: str) -> None:
    assert urls.webhook_url_problem(url, allow_private=False) is None


def test_admission_names_the_field_and_leaves_stored_urls_alone() -> None:
    hooks = [{"url": "https://ok.example.com/"}, {"url": "https://169.254.169.254/"}]
    bad = {"metadata": {"namespace": "team-a"}, "spec": {"notifications": hooks}}
    [problem] = notification_problems(None, bad, allow_private=False)
    assert problem.startswith("spec.notifications[1].url is refused: 169.254.169.254 is a cloud metadata")
    assert notification_problems(bad, bad, allow_private=False) == []


@given(attempt=st.integers(min_value=0, max_value=10_000), seed=st.integers())
def test_backoff_stays_within_full_jitter_bounds(attempt: int, seed: int) -> None:
    rng = random.Random(seed)
    delay = backoff_delay(attempt, base=5, cap=600, jitter=rng.uniform)
    assert 0 <= delay <= min(600, 5 * 2 ** min(attempt, 40))


def test_backoff_grows_then_caps() -> None:
    upper = [backoff_delay(a, base=5, cap=600, jitter=lambda _lo, hi: hi) for a in range(10)]
    assert upper == [5, 10, 20, 40, 80, 160, 320, 600, 600, 600]
    assert backoff_delay(3, base=5, cap=600, jitter=lambda lo, _hi: lo) == 0
