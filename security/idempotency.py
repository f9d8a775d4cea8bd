"""Idempotency keys (contract §0.10): replay a stored response instead of running a write twice.

The first request inserts an `in_progress` row (its own committed statement, so a racing
request sees it and gets 409); the response is stored when it is final, or the row is
deleted when the response must not be replayed (5xx, 401, 403, 409, 429) so that the client
can retry with the same key.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from config.errors import Conflict, IdempotencyConflict, ValidationFailed
from security.models import IdempotencyKey, IdempotencyState

KEY_RE = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,254}$")
TTL = timedelta(hours=24)
STALE_IN_PROGRESS = timedelta(minutes=10)  # a crashed request frees its key after this
NOT_STORED = {401, 403, 409, 429}
REPLAYED_HEADERS = ("Location",)


@dataclass
class Claim:
    record: IdempotencyKey | None = None  # set when this request must run and be stored
    replay: HttpResponse | None = None


def validate_key(raw: str) -> str:
    if not KEY_RE.match(raw) or raw != raw.strip():
        raise ValidationFailed.for_field(
            "Idempotency-Key", "Must be 1-255 printable ASCII characters", "invalid"
        )
    return raw


def fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    for part in (request.method or "", request.path, request.META.get("QUERY_STRING", "")):
        digest.update(part.encode())
        digest.update(b"\n")
    digest.update(request.body)
    return digest.hexdigest()


def claim(*, principal: str, key: str, request: HttpRequest) -> Claim:
    """Either a fresh record to run under, or the stored response to replay; raises 409/422."""
    request_hash = fingerprint(request)
    now = timezone.now()
    for _ in range(3):
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    principal=principal,
                    key=key,
                    request_hash=request_hash,
                    method=request.method or "",
                    path=request.path.replace("\x00", "")[:512],  # hashed in full above
                    expires_at=now + TTL,
                )
            return Claim(record=record)
        except IntegrityError:
            existing = IdempotencyKey.objects.filter(principal=principal, key=key).first()
            if existing is None:
                continue  # deleted in between: try again
            stale = (
                existing.state == IdempotencyState.IN_PROGRESS
                and existing.created_at < now - STALE_IN_PROGRESS
            )
            if existing.expires_at <= now or stale:
                IdempotencyKey.objects.filter(pk=existing.pk).delete()
                continue
            if existing.request_hash != request_hash:
                raise IdempotencyConflict() from None
            if existing.state == IdempotencyState.IN_PROGRESS:
                raise Conflict(
                    "A request with this Idempotency-Key is still being processed"
                ) from None
            return Claim(replay=replay_response(existing))
    raise Conflict("A request with this Idempotency-Key is still being processed")


def replay_response(record: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(
        bytes(record.response_body),
        status=record.status_code or 200,
        content_type=record.content_type or None,
    )
    for name, value in (record.response_headers or {}).items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def complete(record: IdempotencyKey, response: HttpResponse) -> None:
    """Store a final response for replay, or free the key."""
    if response.status_code >= 500 or response.status_code in NOT_STORED or response.streaming:
        release(record)
        return
    IdempotencyKey.objects.filter(pk=record.pk).update(
        state=IdempotencyState.COMPLETED,
        status_code=response.status_code,
        content_type=response.get("Content-Type", ""),
        response_headers={h: response[h] for h in REPLAYED_HEADERS if h in response},
        response_body=response.content,
        completed_at=timezone.now(),
    )


def release(record: IdempotencyKey) -> None:
    IdempotencyKey.objects.filter(pk=record.pk).delete()


def purge_expired() -> int:
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted
