"""Self-service writes on one's own account (contract §3.3, §3.5): profile, email change,
preferences, avatar, password. Staff edits of another user go through the same functions with
an `actor`."""

from __future__ import annotations

import hashlib
import io
import json
import zoneinfo
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from PIL import Image, ImageOps, UnidentifiedImageError

from accounts.auth import services, verification
from accounts.core import tasks, validators
from accounts.core.avatars import avatar_url_for
from accounts.models import User, UserPreferences, default_email_notifications
from config import realtime
from config.errors import BadRequest, Conflict, ValidationFailed
from security.services import audit_record

AVATAR_MAX_BYTES = 5 * 1024 * 1024
AVATAR_SIZE = 256
AVATAR_FORMATS = {"JPEG", "MPO", "PNG", "GIF", "WEBP"}  # MPO: multi-picture JPEG (cameras)
PROFILE_FIELDS = ("name", "email", "bio", "location", "social_links")


def social_links_parse(value: Any) -> dict[str, str]:
    """`social_links` arrives as an object or a JSON-encoded string (contract §3.1)."""
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValidationFailed.for_field("social_links", "Must be a JSON object") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str)
        and isinstance(v, str)
        and 0 < len(k) <= 50
        and len(v) <= 500
        and "\x00" not in k + v
        for k, v in value.items()
    ):
        raise ValidationFailed.for_field("social_links", "Must be an object of strings")
    if len(value) > 20:
        raise ValidationFailed.for_field("social_links", "At most 20 links")
    return value


def user_profile_update(*, user: User, data: dict[str, Any], actor: User | None = None) -> User:
    """Update name, email, bio, location, social links. A new email is stored unverified; a
    verification link goes to it and a notice to the old address (contract §3.3)."""

    actor = actor or user
    changes: dict[str, Any] = {}
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        for field in ("name", "bio", "location"):
            if field in data and data[field] is not None and data[field] != getattr(user, field):
                changes[field] = [getattr(user, field), data[field]]
                setattr(user, field, data[field])
        if "social_links" in data:
            links = social_links_parse(data["social_links"])
            if links != user.social_links:
                changes["social_links"] = [user.social_links, links]
                user.social_links = links
        old_email = user.email
        new_email = User.objects.normalize_email(data.get("email") or "") or old_email
        if new_email != old_email:
            if User.objects.filter(email__iexact=new_email).exclude(pk=user.pk).exists():
                raise Conflict("An account with this email already exists", field="email")
            user.email = new_email
            user.email_verified, user.email_verified_at = False, None
            user.email_verification_sent_at = None
            # A link sent to the previous address must not verify this one.
            user.email_verification_token_hash, user.email_verification_expires_at = "", None
            changes["email"] = [old_email, new_email]
        if not changes:
            return user
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:
            raise Conflict("An account with this email already exists", field="email") from None
        audit_record(
            actor=actor,
            action="profile_update" if actor.pk == user.pk else "user_update",
            target_type="user",
            target_id=user.pk,
            changes=changes,
        )
        realtime.publish_to_user(user.pk, "user_update", {"field": "profile"})
        if "email" in changes:
            verification.email_verification_send(user=user, change=True)
            tasks.send_email_changed_notice.enqueue(
                user_id=user.pk, old_email=old_email, new_email=new_email
            )
    return user


# --- Preferences ------------------------------------------------------------------------------


def preferences_get(*, user: User) -> UserPreferences:
    """The user's preferences, created with the defaults on first read."""
    prefs, _ = UserPreferences.objects.get_or_create(user=user)
    return prefs


def preferences_update(*, user: User, data: dict[str, Any]) -> UserPreferences:
    """Set any subset of the preferences (validated by the caller's serializer, except the
    time zone, which must be an IANA name)."""
    with transaction.atomic():
        prefs, _ = UserPreferences.objects.select_for_update().get_or_create(user=user)
        changes: dict[str, Any] = {}
        if "timezone" in data:
            try:
                zoneinfo.ZoneInfo(data["timezone"])
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValidationFailed.for_field(
                    "timezone", "Unknown time zone (use an IANA name like Europe/Paris)"
                ) from None
        for field in ("theme", "timezone", "language", "date_format", "time_format"):
            if field in data and data[field] != getattr(prefs, field):
                changes[field] = [getattr(prefs, field), data[field]]
                setattr(prefs, field, data[field])
        if "email_notifications" in data:
            merged = {**default_email_notifications(), **prefs.email_notifications}
            merged.update({k: bool(v) for k, v in data["email_notifications"].items()})
            if merged != prefs.email_notifications:
                changes["email_notifications"] = [prefs.email_notifications, merged]
                prefs.email_notifications = merged
        if changes:
            prefs.save()
            audit_record(
                actor=user,
                action="preferences_update",
                target_type="user",
                target_id=user.pk,
                changes=changes,
            )
            realtime.publish_to_user(user.pk, "user_update", {"field": "preferences"})
    return prefs


# --- Avatar -----------------------------------------------------------------------------------


def avatar_set(*, user: User, content: bytes) -> str:
    """Store a new avatar: the bytes must decode as JPEG, PNG, GIF or WebP (sniffed, whatever
    the upload claims); they are re-encoded to a 256 px square PNG, so nothing uploaded is ever
    served back as is. Returns the avatar URL."""
    if len(content) > AVATAR_MAX_BYTES:
        raise ValidationFailed.for_field("avatar", "The image must be at most 5 MB")
    try:
        with Image.open(io.BytesIO(content)) as probe:
            kind = probe.format
            probe.verify()
        if kind not in AVATAR_FORMATS:
            raise BadRequest("avatar: Use a JPEG, PNG, GIF or WebP image")
        with Image.open(io.BytesIO(content)) as image:
            if image.width * image.height > 40_000_000:
                raise BadRequest("avatar: The image is too large")
            image.seek(0)
            upright = ImageOps.exif_transpose(image) or image  # phone photos carry a rotation
            square = _square(upright.convert("RGBA"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise BadRequest("avatar: Use a JPEG, PNG, GIF or WebP image") from None
    out = io.BytesIO()
    square.save(out, format="PNG", optimize=True)
    data = out.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:16]
    path = f"avatars/{user.pk}/{digest}.png"
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        old = user.avatar
        if not default_storage.exists(path):
            default_storage.save(path, ContentFile(data))
        user.avatar = path
        user.save(update_fields=["avatar", "updated_at"])
        audit_record(actor=user, action="avatar_update", target_type="user", target_id=user.pk)
        realtime.publish_to_user(user.pk, "user_update", {"field": "profile"})
        if old and old != path:
            transaction.on_commit(lambda: default_storage.delete(old))
    return avatar_url_for(user.pk, path)


def _square(image: Image.Image) -> Image.Image:
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side)).resize(
        (AVATAR_SIZE, AVATAR_SIZE), Image.Resampling.LANCZOS
    )


def avatar_delete(*, user: User) -> None:
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        old = user.avatar
        if not old:
            return
        user.avatar = ""
        user.save(update_fields=["avatar", "updated_at"])
        audit_record(actor=user, action="avatar_delete", target_type="user", target_id=user.pk)
        realtime.publish_to_user(user.pk, "user_update", {"field": "profile"})
        transaction.on_commit(lambda: default_storage.delete(old))


# --- Password ---------------------------------------------------------------------------------


def password_change(
    *,
    user: User,
    new_password: str,
    current_password: str | None = None,
    confirm_password: str | None = None,
    keep_session_id: int | None = None,
    ip: str = "",
) -> None:
    """`PUT /users/me/password`: the current password (unless the account has none), the same
    policy as sign-up; other sessions are signed out and `password_changed` is emailed."""

    if user.has_usable_password() and not user.check_password(current_password or ""):
        raise ValidationFailed.for_field(
            "current_password", "Current password is incorrect", code="incorrect"
        )
    if confirm_password is not None and confirm_password != new_password:
        raise ValidationFailed.for_field(
            "confirm_password", "Passwords do not match", code="mismatch"
        )
    validators.validate_password(new_password, field="new_password")
    services.password_set(user=user, password=new_password, keep_session_id=keep_session_id, ip=ip)
