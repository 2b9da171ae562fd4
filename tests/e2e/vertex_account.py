"""A Vertex AI channel's credentials for the e2e tests: a service account with a fresh RSA key (the gateway signs
its JWT with it) and the token endpoint the channel's base URL plays, answering with a given access token."""

from __future__ import annotations

import orjson
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.mock_providers import Handler, json_response
from tests.e2e.mock_upstream import Recorded

REGION_CONFIG = orjson.dumps({"region": "us-central1"}).decode()   # the channel's config


def service_account() -> dict[str, str]:
    """A service-account key file of project `my-project` (the channel's key, as JSON)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "my-project", "private_key_id": "0123456789abcdef",
            "private_key": pem, "client_email": "gateway@my-project.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token"}


def token_endpoint(access_token: str) -> Handler:
    """The mock's `POST /token`: the OAuth exchange, answering `access_token` for an hour."""
    async def token(request: web.Request, rec: Recorded) -> web.StreamResponse:
        return json_response({"access_token": access_token, "expires_in": 3599, "token_type": "Bearer"})
    return token


__all__ = ["REGION_CONFIG", "service_account", "token_endpoint"]
