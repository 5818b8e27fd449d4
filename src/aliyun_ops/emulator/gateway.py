"""The gateway's framing rules, applied before a request body is read: a body is at most ``MAX_BODY_BYTES``
long, its length is a plain decimal ``Content-Length``, and a body without one (chunked or any other
transfer coding) is refused.

Refusals come before any body byte is buffered, so a huge or endless body costs no memory; the server
answers, then swallows a bounded part of the refused body so that the client reads the answer rather than
a connection reset (what nginx calls a lingering close), then closes the connection.

Codes: the Aliyun OpenAPI gateway's own answers to these are not documented, so ``RequestEntityTooLarge``
(413), ``BadRequest`` (400) and ``LengthRequired`` (411) are this emulator's (assumptions), in the gateway's
error-body shape, so that an SDK raises an error with a code and a status instead of a connection failure.
"""

from __future__ import annotations

from collections.abc import Mapping

from .core import EmulatorError

MAX_BODY_BYTES = 8 * 1024 * 1024  # an assumption: the real limit is unpublished; RPC bodies are form fields
DRAIN_BYTES = 64 * 1024 * 1024  # at most this much of a refused body is read and dropped
DRAIN_TIMEOUT_S = 2.0


class RequestEntityTooLarge(EmulatorError):
    code = "RequestEntityTooLarge"
    http_status = 413
    default_message = "The request body is too large."


class BadRequest(EmulatorError):
    code = "BadRequest"
    http_status = 400
    default_message = "The request is malformed."


class LengthRequired(EmulatorError):
    code = "LengthRequired"
    http_status = 411
    default_message = "The request body must be sent with a Content-Length header."


class MalformedContentLength(BadRequest):
    default_message = "The Content-Length header is not a non-negative decimal number."


def body_length(headers: Mapping[str, list[str]], limit: int = MAX_BODY_BYTES) -> int:
    """The length of the body to read, or raise the refusal. ``headers``: lower-case name -> every value."""
    codings = [v.strip().lower() for v in headers.get("transfer-encoding", [])]
    if any(coding != "identity" for coding in codings):
        raise LengthRequired()
    values = {v.strip() for v in headers.get("content-length", [])}
    if not values:
        return 0
    if len(values) > 1:  # two different lengths: a smuggling attempt or a broken client
        raise MalformedContentLength()
    raw = values.pop()
    if not raw.isascii() or not raw.isdigit():
        raise MalformedContentLength()
    length = int(raw)
    if length > limit:
        raise RequestEntityTooLarge(f"The request body of {length} bytes is over the {limit}-byte limit.")
    return length
