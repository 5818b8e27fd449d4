"""Verify the two request signatures the official SDKs send, so a wrong secret fails like on Aliyun.

- ACS3-HMAC-SHA256 (alibabacloud-tea-openapi's default): ``Authorization: ACS3-HMAC-SHA256
  Credential=<AK>,SignedHeaders=<a;b>,Signature=<hex>``. The canonical request is rebuilt exactly as
  ``alibabacloud_tea_openapi.utils.Utils.get_authorization`` builds it: method, path, the query sorted
  by key with values percent-encoded (RFC 3986, ``~`` kept), every signed header as ``name:value``
  (lower-case names, stripped values), the signed header names, and hex sha256 of the body.
- HMAC-SHA1 in the query (aliyun-python-sdk-core, and tea with ``signature_algorithm="v2"``):
  ``base64(HMAC-SHA1(secret + "&", METHOD + "&%2F&" + pe(sorted query + form body, Signature removed)))``.

STS credentials must come with their exact token (``x-acs-security-token`` header or ``SecurityToken``
query parameter). Signatures are compared in constant time. Nothing here logs or echoes a secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote

from .core import EmulatorError

ACS3 = "ACS3-HMAC-SHA256"


class CredentialLike(Protocol):
    """What signing needs from ``backend.Credential``."""

    @property
    def access_key_id(self) -> str: ...

    @property
    def secret(self) -> str: ...

    @property
    def security_token(self) -> str | None: ...


class MissingAccessKeyId(EmulatorError):
    code = "MissingAccessKeyId"
    http_status = 400
    default_message = "AccessKeyId is mandatory for this action."


class InvalidAccessKeyIdNotFound(EmulatorError):
    code = "InvalidAccessKeyId.NotFound"
    http_status = 404
    default_message = "Specified access key is not found."


class SignatureDoesNotMatch(EmulatorError):
    code = "SignatureDoesNotMatch"
    http_status = 400
    default_message = "Specified signature is not matched with our calculation."


class IncompleteSignature(EmulatorError):
    code = "IncompleteSignature"
    http_status = 400
    default_message = "The request signature does not conform to Aliyun standards."


class MissingSecurityToken(EmulatorError):
    code = "MissingSecurityToken"
    http_status = 400
    default_message = "SecurityToken is mandatory for this action."


class InvalidSecurityTokenMismatch(EmulatorError):
    code = "InvalidSecurityToken.MismatchWithAccessKey"
    http_status = 400
    default_message = "Specified SecurityToken mismatch with the AccessKey."


@dataclass(frozen=True)
class SignedRequest:
    """One HTTP request as received: query and form already decoded (``+`` and ``%XX``)."""

    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, list[str]]  # lower-case name -> every value received
    body: bytes = b""
    form: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as both SDKs do it: everything but unreserved characters, ``~`` kept."""
    return quote(value, safe="~", encoding="utf-8")


def authenticate(request: SignedRequest, credentials: Mapping[str, CredentialLike]) -> str:
    """Return the caller's access key id, or raise the error Aliyun would answer."""
    authorization = request.header("authorization")
    if authorization is not None:
        return _verify_acs3(request, authorization, credentials)
    if "Signature" in request.query or "AccessKeyId" in request.query:
        return _verify_hmac_sha1(request, credentials)
    raise MissingAccessKeyId()


def signed_freshness(request: SignedRequest) -> tuple[str | None, str | None]:
    """The request's timestamp and signature nonce, read only where its signature covers them: the
    ``x-acs-date`` and ``x-acs-signature-nonce`` headers when they are among an ACS3 request's signed
    headers; ``Timestamp`` and ``SignatureNonce`` from the query or the form body for HMAC-SHA1 (the query
    wins when both hold one, as in the string to sign). None where a value is absent or not signed."""
    authorization = request.header("authorization")
    if authorization is not None:
        _, _, signed_headers, _ = _parse_authorization(authorization)
        signed = {name.lower() for name in signed_headers}

        def signed_header(name: str) -> str | None:
            return request.header(name) if name in signed else None

        return signed_header("x-acs-date"), signed_header("x-acs-signature-nonce")
    params = {**request.form, **request.query}
    return params.get("Timestamp"), params.get("SignatureNonce")


def _lookup(access_key_id: str, credentials: Mapping[str, CredentialLike]) -> CredentialLike:
    if not access_key_id:
        raise MissingAccessKeyId()
    credential = credentials.get(access_key_id)
    if credential is None:
        raise InvalidAccessKeyIdNotFound()
    return credential


def _check_token(credential: CredentialLike, presented: str | None) -> None:
    """An STS credential is only valid with its own token; a plain key ignores a stray token."""
    expected = credential.security_token
    if not expected:
        return
    if not presented:
        raise MissingSecurityToken()
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise InvalidSecurityTokenMismatch()


def _parse_authorization(value: str) -> tuple[str, str, list[str], str]:
    """``ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=hex`` -> its four parts."""
    algorithm, _, rest = value.strip().partition(" ")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, val = item.strip().partition("=")
        if sep:
            parts[key] = val
    if algorithm != ACS3 or not {"Credential", "SignedHeaders", "Signature"} <= parts.keys():
        raise IncompleteSignature()
    signed = [name for name in parts["SignedHeaders"].split(";") if name]
    return algorithm, parts["Credential"], signed, parts["Signature"]


def acs3_canonical_request(request: SignedRequest, signed_headers: list[str]) -> str:
    """The canonical request exactly as ``alibabacloud_tea_openapi`` hashes it."""
    query = "&".join(f"{key}={percent_encode(request.query[key])}" for key in sorted(request.query))
    lines = []
    for name in signed_headers:
        values = request.headers.get(name.lower(), [])
        lines.append(f"{name.lower()}:{','.join(sorted(v.strip() for v in values))}\n")
    payload = hashlib.sha256(request.body).hexdigest()
    return f"{request.method}\n{request.path or '/'}\n{query}\n{''.join(lines)}\n{';'.join(signed_headers)}\n{payload}"


def acs3_signature(secret: str, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    string_to_sign = f"{ACS3}\n{digest}"
    return hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _verify_acs3(request: SignedRequest, authorization: str, credentials: Mapping[str, CredentialLike]) -> str:
    _, access_key_id, signed_headers, signature = _parse_authorization(authorization)
    credential = _lookup(access_key_id, credentials)
    expected = acs3_signature(credential.secret, acs3_canonical_request(request, signed_headers))
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise SignatureDoesNotMatch()
    _check_token(credential, request.header("x-acs-security-token") or request.query.get("SecurityToken"))
    return access_key_id


def hmac_sha1_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    canonical = "&".join(
        f"{percent_encode(key)}={percent_encode(params[key])}" for key in sorted(params) if key != "Signature"
    )
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def hmac_sha1_signature(secret: str, string_to_sign: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _verify_hmac_sha1(request: SignedRequest, credentials: Mapping[str, CredentialLike]) -> str:
    credential = _lookup(request.query.get("AccessKeyId", ""), credentials)
    signature = request.query.get("Signature")
    if not signature or request.query.get("SignatureMethod", "HMAC-SHA1") != "HMAC-SHA1":
        raise IncompleteSignature()
    signed = {**request.form, **request.query}
    string_to_sign = hmac_sha1_string_to_sign(request.method, signed)
    expected = hmac_sha1_signature(credential.secret, string_to_sign)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        # aliyun-python-sdk-core splits this message on ':' (it compares the server's string to sign
        # with its own); the token is left out so that no secret is echoed.
        shown = hmac_sha1_string_to_sign(request.method, {k: v for k, v in signed.items() if k != "SecurityToken"})
        raise SignatureDoesNotMatch(f"{SignatureDoesNotMatch.default_message} server string to sign is:{shown}")
    _check_token(credential, request.query.get("SecurityToken") or request.header("x-acs-security-token"))
    return credential.access_key_id
