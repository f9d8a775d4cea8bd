"""Writes of the security app: audit entries, system settings, the test email, IP blocks,
idempotency keys."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.utils import timezone

from config import realtime
from config.context import client_ip_var, current_request_id, impersonator_id_var, user_agent_var
from config.errors import BadRequest, Conflict, NotFound, ValidationFailed
from config.logging import redact
from config.mail import from_address, mail_connection
from config.net import parse_ip
from security import blocklist, system_settings
from security.models import AuditLog, BlockType, IPBlock, SystemSetting, block_network


def audit_record(
    *,
    actor: Any | None,
    action: str,
    target_type: str,
    target_id: object = "",
    changes: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> AuditLog:
    """Record who did what to which object. IP, user agent, request id and impersonator come
    from the request context; secret-looking values in `changes`/`metadata` are redacted."""
    impersonator_id = impersonator_id_var.get()
    meta = dict(redact(dict(metadata or {})))
    if impersonator_id:
        meta["impersonated_by"] = impersonator_id
    ip = parse_ip(client_ip_var.get())
    return AuditLog.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        impersonator_id=impersonator_id,
        action=action,
        target_type=target_type,
        target_id="" if target_id is None else str(target_id),
        changes=redact(dict(changes)) if changes else None,
        metadata=meta,
        ip_address=str(ip) if ip else None,
        user_agent=user_agent_var.get()[:512],
        request_id=current_request_id() or "",
    )


# --- System settings --------------------------------------------------------------------------


def _publish_settings_changed(keys: list[str]) -> None:
    realtime.broadcast(
        "cache_invalidate",
        {"query_keys": ["settings"], "event": "settings_updated", "timestamp": int(time.time())},
    )
    # Now (this transaction reads its own writes) and again after commit (other processes
    # may have re-cached the old values in between).
    system_settings.invalidate()
    transaction.on_commit(system_settings.invalidate)


def system_settings_update(*, values: Mapping[str, Any], actor: Any) -> dict[str, Any]:
    """Validate and store several settings at once (all or nothing). Returns the changes."""
    cleaned = {}
    for key, raw in values.items():
        defn = system_settings.definition(key)
        cleaned[key] = system_settings.coerce(defn, raw, field_name=key)
    changes: dict[str, Any] = {}
    with transaction.atomic():
        rows = {
            r.key: r
            for r in SystemSetting.objects.select_for_update().filter(key__in=list(cleaned))
        }
        for key, value in cleaned.items():
            defn = system_settings.DEFINITIONS[key]
            row = rows.get(key) or SystemSetting(
                key=key,
                category=defn.category,
                description=defn.description,
                is_sensitive=defn.sensitive,
            )
            old = row.value if row.pk else defn.default
            if row.pk and row.is_customized and old == value:
                continue
            row.value, row.is_customized, row.updated_by = value, True, actor
            row.save()
            changes[key] = {
                "old": system_settings.display_value(key, old),
                "new": system_settings.display_value(key, value),
            }
        if not changes:
            return changes
        audit_record(
            actor=actor, action="settings_update", target_type="system_setting", changes=changes
        )
        _publish_settings_changed(list(changes))
        if "maintenance_mode" in changes:
            on = cleaned["maintenance_mode"]
            message = cleaned.get("maintenance_message") or system_settings.get_setting(
                "maintenance_message"
            )
            realtime.broadcast(
                "broadcast",
                {
                    "id": f"maintenance-{int(time.time())}",
                    "title": "Maintenance" if on else "Maintenance finished",
                    "message": message if on else "The service is available again.",
                    "type": "warning" if on else "success",
                    "timestamp": timezone.now().isoformat().replace("+00:00", "Z"),
                },
            )
    return changes


def system_setting_update(*, key: str, value: Any, actor: Any) -> dict[str, Any]:
    """Set one setting (404 for unknown keys, 400 for a wrong type or range)."""
    defn = system_settings.definition(key)
    system_settings.coerce(defn, value)  # report errors against the field `value`
    return system_settings_update(values={key: value}, actor=actor)


def email_test_send(*, actor: Any, recipient: str | None = None) -> str:
    """Send a test email through the configured transport (to the caller by default); audited.
    Any transport error is a 400 carrying its text: it is the operator's answer."""
    recipient = recipient or actor.email
    site_name = system_settings.get_setting("site_name")
    message = EmailMessage(
        subject=f"{site_name}: test email",
        body="This is a test email from Keel. Your email settings work.",
        from_email=from_address(),
        to=[recipient],
        connection=mail_connection(),
    )
    try:
        message.send()
    except Exception as exc:
        raise BadRequest(f"Could not send the test email: {exc}") from exc
    audit_record(
        actor=actor,
        action="email_test",
        target_type="system_setting",
        metadata={"recipient": recipient},
    )
    return recipient


def system_settings_seed() -> int:
    """Create rows for defined settings that have none; refresh their metadata. Idempotent."""
    existing = {r.key: r for r in SystemSetting.objects.all()}
    created = 0
    for key, defn in system_settings.DEFINITIONS.items():
        row = existing.get(key)
        if row is None:
            SystemSetting.objects.create(
                key=key,
                value=defn.default,
                category=defn.category,
                description=defn.description,
                is_sensitive=defn.sensitive,
            )
            created += 1
        elif (row.category, row.description, row.is_sensitive) != (
            defn.category,
            defn.description,
            defn.sensitive,
        ):
            row.category, row.description, row.is_sensitive = (
                defn.category,
                defn.description,
                defn.sensitive,
            )
            row.save(update_fields=["category", "description", "is_sensitive", "updated_at"])
    system_settings.invalidate()
    return created


# --- IP blocklist -----------------------------------------------------------------------------


def _parse_block_target(ip_address: str | None, ip_range: str | None) -> tuple[str | None, str]:
    address = (ip_address or "").strip() or None
    cidr = (ip_range or "").strip()
    if not address and not cidr:
        raise ValidationFailed.for_field(
            "ip_address", "An IP address or a CIDR range is required", "required"
        )
    if address:
        try:
            parsed = ipaddress.ip_address(address)
            if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped:
                parsed = parsed.ipv4_mapped  # clients are matched as IPv4
            address = str(parsed)
        except ValueError:
            raise ValidationFailed.for_field(
                "ip_address", "Enter a valid IPv4 or IPv6 address"
            ) from None
    if cidr:
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise ValidationFailed.for_field(
                "ip_range", "Enter a valid CIDR range, e.g. 203.0.113.0/24"
            ) from None
        if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(
            ipaddress.IPv6Network("::ffff:0:0/96")
        ):
            raise ValidationFailed.for_field(
                "ip_range", "Use the IPv4 form for IPv4-mapped ranges", "ipv4_mapped"
            )
        if network.prefixlen == 0:
            raise ValidationFailed.for_field(
                "ip_range", "Refusing to block every address", "too_wide"
            )
        cidr = str(network)
        if address and ipaddress.ip_address(address) not in network:
            raise ValidationFailed.for_field("ip_address", "The address is not inside ip_range")
    return address, cidr


def ip_block_validate(
    *,
    ip_address: str | None,
    ip_range: str | None,
    block_type: str = BlockType.MANUAL,
    expires_at: datetime | None = None,
    caller_ip: str | None = None,
) -> tuple[str | None, str]:
    """Check a block request; returns the normalized (address, cidr) or raises a domain error.
    Refuses a block that would cover the caller, and one that already exists."""
    address, cidr = _parse_block_target(ip_address, ip_range)
    if block_type not in BlockType.values:
        raise ValidationFailed.for_field(
            "block_type", f"Must be one of: {', '.join(BlockType.values)}"
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed.for_field("expires_at", "Must be in the future")
    if caller_ip:
        caller = parse_ip(caller_ip)
        target = block_network(address, cidr)
        if caller is not None and caller.version == target.version and caller in target:
            raise BadRequest("This block would include your own IP address")
    if _live_duplicates(address, cidr, lock=False):
        raise Conflict("ip_address: This address or range is already blocked")
    return address, cidr


def _live_duplicates(address: str | None, cidr: str, *, lock: bool) -> list[IPBlock]:
    live = IPBlock.objects.filter(is_active=True)
    if lock:
        live = live.select_for_update()
    duplicate = live.filter(ip_range=cidr) if cidr else live.filter(ip_address=address, ip_range="")
    return [b for b in duplicate if b.is_live]


def ip_block_create(
    *,
    actor: Any | None,
    ip_address: str | None = None,
    ip_range: str | None = None,
    reason: str = "",
    block_type: str = BlockType.MANUAL,
    expires_at: datetime | None = None,
    caller_ip: str | None = None,
) -> IPBlock:
    """Block an address or a network (validated by `ip_block_validate`); audited, live at once."""
    address, cidr = ip_block_validate(
        ip_address=ip_address,
        ip_range=ip_range,
        block_type=block_type,
        expires_at=expires_at,
        caller_ip=caller_ip,
    )
    with transaction.atomic():
        if connection.vendor == "postgresql":  # serialise creates of the same target
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"ipblock:{cidr or address}"]
                )
        if _live_duplicates(address, cidr, lock=True):  # again, under lock: racing creates
            raise Conflict("ip_address: This address or range is already blocked")
        block = IPBlock.objects.create(
            ip_address=address,
            ip_range=cidr,
            reason=reason[:255],
            block_type=block_type,
            expires_at=expires_at,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        audit_record(
            actor=actor,
            action="ip_block",
            target_type="ip_block",
            target_id=block.pk,
            changes={
                "ip_address": address,
                "ip_range": cidr,
                "block_type": block_type,
                "reason": reason,
            },
        )
        blocklist.bump_version()
    return block


def ip_block_deactivate(*, block_id: int, actor: Any) -> IPBlock:
    """Lift a block (kept for the record, marked inactive). Live at once in every process."""
    with transaction.atomic():
        block = IPBlock.objects.select_for_update().filter(pk=block_id).first()
        if block is None:
            raise NotFound("IP block not found")
        if block.is_active:
            block.is_active = False
            block.save(update_fields=["is_active", "updated_at"])
            audit_record(
                actor=actor,
                action="ip_unblock",
                target_type="ip_block",
                target_id=block.pk,
                changes={"is_active": {"old": True, "new": False}},
            )
            blocklist.bump_version()
    return block


def ip_block_reason_set(*, block_id: int, reason: str, actor: Any) -> IPBlock:
    """Edit a block's reason, the one field a block keeps editable (the Django admin); audited.
    The address, range, type and expiry are lifted and re-created, never edited."""
    reason = (reason or "").strip()
    with transaction.atomic():
        block = IPBlock.objects.select_for_update().filter(pk=block_id).first()
        if block is None:
            raise NotFound("IP block not found")
        if block.reason != reason:
            old, block.reason = block.reason, reason
            block.save(update_fields=["reason", "updated_at"])
            audit_record(
                actor=actor,
                action="ip_block_update",
                target_type="ip_block",
                target_id=block.pk,
                changes={"reason": {"old": old, "new": reason}},
            )
    return block


def ip_block_auto(*, target: str, minutes: int, reason: str) -> IPBlock | None:
    """Temporary automatic block (an address, or an IPv6 /64) after repeated rate-limit hits
    (setting rate_limit_auto_block)."""
    is_range = "/" in target
    if not is_range and blocklist.find_block(target) is not None:
        return None
    try:
        return ip_block_create(
            actor=None,
            ip_address=None if is_range else target,
            ip_range=target if is_range else None,
            reason=reason,
            block_type=BlockType.AUTO_RATE_LIMIT,
            expires_at=timezone.now() + timedelta(minutes=minutes),
        )
    except Conflict:
        return None
