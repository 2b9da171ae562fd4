"""SigV4 signer against the botocore-computed vector in vectors/bedrock.json."""

from __future__ import annotations

import calendar
import datetime
import hashlib
import time

import pytest

from proxy.converters.signing import sigv4
from tests.unit.converters.vectors import load

CASE = load("bedrock")["cases"]["sigv4_invoke"]
INPUTS = CASE["inputs"]
BODY = INPUTS["body_string"].encode("utf-8")
NOW = float(calendar.timegm(time.strptime(INPUTS["x_amz_date"], "%Y%m%dT%H%M%SZ")))
CREDS = sigv4.Credentials(INPUTS["access_key_id"], INPUTS["secret_access_key"])


def test_payload_hash() -> None:
    assert hashlib.sha256(BODY).hexdigest() == CASE["payload_sha256"]


def test_amz_date_from_now() -> None:
    assert sigv4.amz_date(NOW) == INPUTS["x_amz_date"]


def test_canonical_request_exact() -> None:
    headers = dict(INPUTS["headers"], **{"X-Amz-Date": INPUTS["x_amz_date"], "host": sigv4.host_of(INPUTS["url"])})
    canonical, signed = sigv4.canonical_request(INPUTS["method"], INPUTS["url"], headers, CASE["payload_sha256"])
    assert canonical == CASE["canonical_request"]
    assert signed == "accept;content-type;host;x-amz-date"


def test_string_to_sign_exact() -> None:
    scope = sigv4.credential_scope(INPUTS["x_amz_date"], INPUTS["region"], INPUTS["service"])
    assert sigv4.string_to_sign(INPUTS["x_amz_date"], scope, CASE["canonical_request"]) == CASE["string_to_sign"]


def test_signed_headers_exact() -> None:
    out = sigv4.sign_headers(INPUTS["method"], INPUTS["url"], INPUTS["headers"], BODY, CREDS,
                             INPUTS["region"], INPUTS["service"], NOW)
    for name, value in CASE["expected_headers"].items():
        assert out[name] == value
    assert out["Content-Type"] == "application/json" and "host" not in out


def test_canonical_uri_encodes_each_segment_again() -> None:
    assert sigv4.canonical_uri("/model/a:b/invoke") == "/model/a%3Ab/invoke"
    assert sigv4.canonical_uri("/model/a%3Ab/invoke") == "/model/a%253Ab/invoke"
    assert sigv4.canonical_uri("/model/arn%2Fx/invoke") == "/model/arn%252Fx/invoke"
    assert sigv4.canonical_uri("") == "/"


def test_canonical_query_sorted_and_encoded() -> None:
    assert sigv4.canonical_query("b=2&a=x y&a=1") == "a=1&a=x%20y&b=2"


def test_host_keeps_non_default_port() -> None:
    assert sigv4.host_of("https://Bedrock.example.com:443/x") == "bedrock.example.com"
    assert sigv4.host_of("http://127.0.0.1:8080/x") == "127.0.0.1:8080"


def test_session_token_is_sent_and_signed() -> None:
    creds = sigv4.Credentials("AK", "SK", "TOKEN")
    out = sigv4.sign_headers("POST", "https://h/p", {"Content-Type": "application/json"}, b"{}", creds,
                             "us-east-1", "bedrock", NOW)
    assert out["X-Amz-Security-Token"] == "TOKEN"
    assert "x-amz-security-token" in out["Authorization"]


def test_matches_botocore_for_other_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = pytest.importorskip("botocore.auth")
    awsrequest = pytest.importorskip("botocore.awsrequest")
    credentials = pytest.importorskip("botocore.credentials")
    url = ("https://bedrock-runtime.eu-west-3.amazonaws.com/model/eu.anthropic.claude-3-7-sonnet-20250219-v1:0"
           "/invoke-with-response-stream")
    headers = {"Content-Type": "application/json", "Accept": "application/vnd.amazon.eventstream",
               "X-Amzn-Bedrock-Accept": "application/json"}
    body = '{"messages":[{"role":"user","content":"h\u00e9"}]}'.encode()
    when = 1_767_225_599.0
    request = awsrequest.AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    creds = ("AK2", "secret/2", "tok")
    signer = auth.SigV4Auth(credentials.Credentials(*creds), "bedrock", "eu-west-3")
    fixed = datetime.datetime.fromtimestamp(when, datetime.UTC).replace(tzinfo=None)
    monkeypatch.setattr(auth, "get_current_datetime", lambda: fixed)
    signer.add_auth(request)
    ours = sigv4.sign_headers("POST", url, headers, body, sigv4.Credentials(*creds), "eu-west-3", "bedrock", when)
    assert ours["Authorization"] == request.headers["Authorization"]
