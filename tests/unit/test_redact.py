"""Redaction masks secrets and only secrets: ordinary sentences that contain "token",
"secret" or "basic" reach the log, `doctor` and the health details unchanged (over-masking
hides what a user needs to read)."""

from __future__ import annotations

import pytest

from shared_utils.redact import redact, scrub

ORDINARY = [
    "first-token deadline 90s: OLYMPUS_FIRST_TOKEN_TIMEOUT_S",
    "top_k 5: fits a 4096-token context",
    "basic auth is off",
    "Basic authentication is off on this port",
    "the bearer of bad news",
    "waiting for first token from llama.cpp (local), prompt: 280 tokens",
    "first token: 2.7 s, 12.5 tokens/s",
    "the secret: 90s",
    "max_answer_tokens=320 first_token_s=2.7",
    "keep the secret_key file private",
    "token budget 4096; Token limits apply",
    "olk_a1b2c3 laptop (created 2026-12-07)",  # a listed key's prefix identifies it
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_sentences_are_kept(text):
    assert redact(text) == text


SECRETS = [
    ("Authorization: Bearer abc.def.ghi", "Authorization: Bearer ***"),
    ("Authorization: Token deadlinelike", "Authorization: Token ***"),
    ("authorization=Basic dXNlcjpwYXNz", "authorization=Basic ***"),
    ("curl -H 'Bearer olk_Q2xhc3NpYy1rZXktZm9yLXRlc3RzLW9ubHk'", "curl -H 'Bearer ***'"),
    ("sent Basic dXNlcjpwYXNzd29yZA== to the proxy", "sent Basic *** to the proxy"),
    ("pull failed: token = 'hf_abcdefghijklmnopqrstuvwxyz0123'", "pull failed: token = '***'"),
    ("password=1234 user=admin", "password=*** user=admin"),
    ("OLYMPUS_HF_TOKEN=abc", "OLYMPUS_HF_TOKEN=***"),
    ('{"token": "tok-value-1"}', '{"token": "***"}'),
    ("secret: s3cr3t-v4lue", "secret: ***"),
    ("GET http://root:s3cret@arango:8529/_api/version", "GET http://***@arango:8529/_api/version"),
]


@pytest.mark.parametrize(("text", "expected"), SECRETS)
def test_secrets_are_masked_and_the_rest_kept(text, expected):
    assert redact(text) == expected


def test_doctor_choices_read_as_written():
    """The profile's reasons, as `doctor` prints them (they go through scrub)."""
    reasons = {
        "why": ["first-token deadline 90s: small CPU", "top_k 5: fits a 4096-token context"],
        "first_token_timeout_s": 90.0,
    }
    assert scrub(reasons) == reasons
