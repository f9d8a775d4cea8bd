"""Idempotency keys (contract §0.10)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from security.idempotency import purge_expired
from security.models import AuditLog, IdempotencyKey
from security.tasks import cleanup_idempotency_keys

pytestmark = [pytest.mark.urls("tests.platform_urls"), pytest.mark.django_db]


def post(
    client,
    key: str | None = "k-1",
    body: dict | None = None,
    path: str = "/api/v1/_side-effect",
    **extra,
):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(
        path,
        body if body is not None else {"amount": 1},
        content_type="application/json",
        **headers,
        **extra,
    )


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def test_a_replay_returns_the_identical_response_without_running_again(signed_in):
    first = post(signed_in)
    second = post(signed_in)
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert AuditLog.objects.filter(action="side_effect").count() == 1


def test_the_same_key_with_another_body_is_422(signed_in):
    post(signed_in, body={"amount": 1})
    response = post(signed_in, body={"amount": 2})
    assert response.status_code == 422
    assert response.json()["error"] == "IDEMPOTENCY_CONFLICT"
    assert AuditLog.objects.filter(action="side_effect").count() == 1


def test_the_same_key_on_another_path_or_query_is_422(signed_in):
    post(signed_in)
    assert post(signed_in, path="/api/v1/_side-effect?x=1").status_code == 422
    assert post(signed_in, path="/api/v1/_echo").status_code == 422


def test_keys_are_scoped_per_principal(client, alice, bob):
    client.force_login(alice)
    post(client)
    client.force_login(bob)
    response = post(client)
    assert "Idempotent-Replayed" not in response
    assert AuditLog.objects.filter(action="side_effect").count() == 2


def test_anonymous_requests_ignore_the_key(client):
    post(client)
    post(client)
    assert AuditLog.objects.filter(action="side_effect").count() == 2
    assert not IdempotencyKey.objects.exists()


def test_requests_without_a_key_always_run(signed_in):
    post(signed_in, key=None)
    post(signed_in, key=None)
    assert AuditLog.objects.filter(action="side_effect").count() == 2


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "tab\tkey", "ünicode", " leading"])
def test_a_malformed_key_is_400_and_nothing_runs(signed_in, key):
    response = post(signed_in, key=key)
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "Idempotency-Key"
    assert not AuditLog.objects.exists()


def test_a_255_character_key_is_fine(signed_in):
    assert post(signed_in, key="k" * 255).status_code == 201


@pytest.mark.parametrize("status", [500, 503, 401, 403, 409, 429])
def test_failed_or_refused_responses_free_the_key(signed_in, status):
    post(signed_in, path=f"/api/v1/_side-effect?status={status}")
    retry = post(signed_in, path=f"/api/v1/_side-effect?status={status}")
    assert "Idempotent-Replayed" not in retry
    assert AuditLog.objects.filter(action="side_effect").count() == 2


def test_client_errors_are_replayed_too(signed_in):
    first = post(signed_in, path="/api/v1/_side-effect?status=400")
    second = post(signed_in, path="/api/v1/_side-effect?status=400")
    assert second["Idempotent-Replayed"] == "true"
    assert second.content == first.content


def test_get_and_delete_ignore_the_key(signed_in):
    signed_in.get("/api/v1/_echo", HTTP_IDEMPOTENCY_KEY="k")
    assert not IdempotencyKey.objects.exists()


def test_the_stripe_webhook_ignores_the_key(signed_in):
    signed_in.post(
        "/api/v1/webhooks/stripe", {}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert not IdempotencyKey.objects.exists()


def test_keys_expire_after_24_hours(signed_in, time_machine):
    time_machine.move_to(timezone.now())
    post(signed_in)
    time_machine.shift(timedelta(hours=24, seconds=1))
    response = post(signed_in, body={"something": "else"})
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response


def test_the_cleanup_job_purges_expired_keys(signed_in):
    post(signed_in, key="old")
    post(signed_in, key="new")
    IdempotencyKey.objects.filter(key="old").update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert cleanup_idempotency_keys() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
    assert purge_expired() == 0


def test_a_stale_in_progress_key_is_reclaimed(signed_in, alice):
    IdempotencyKey.objects.create(
        principal=f"user:{alice.pk}",
        key="k-1",
        request_hash="0" * 64,
        method="POST",
        path="/api/v1/_side-effect",
        created_at=timezone.now() - timedelta(minutes=11),
        expires_at=timezone.now() + timedelta(hours=23),
    )
    assert post(signed_in).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_two_racing_requests_with_one_key_run_exactly_once(alice):
    clients = [Client(), Client()]
    for c in clients:
        c.force_login(alice)
    barrier = threading.Barrier(2)
    results: list[int | str] = []

    def fire(c: Client) -> None:
        barrier.wait()
        try:
            results.append(post(c, path="/api/v1/_side-effect?sleep=0.5").status_code)
        except Exception as exc:  # report it in the assertion below
            results.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=fire, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results, key=str) == [201, 409], results
    assert AuditLog.objects.filter(action="side_effect").count() == 1
    replay = post(clients[0], path="/api/v1/_side-effect?sleep=0.5")
    assert replay["Idempotent-Replayed"] == "true"
