from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.cache import cache
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django_otp.models import Device


class Role(models.TextChoices):
    """Global roles, highest first (contract §15)."""

    SUPER_ADMIN = "super_admin", "Super admin"
    ADMIN = "admin", "Admin"
    PREMIUM = "premium", "Premium"
    USER = "user", "User"


ROLE_LEVELS = {Role.SUPER_ADMIN: 100, Role.ADMIN: 50, Role.PREMIUM: 20, Role.USER: 10}
STAFF_ROLES = frozenset({Role.SUPER_ADMIN, Role.ADMIN})


class UserQuerySet(models.QuerySet["User"]):
    def alive(self) -> UserQuerySet:
        """Users that are not soft-deleted."""
        return self.filter(deleted_at__isnull=True)


class UserManager(BaseUserManager["User"]):
    def get_queryset(self) -> UserQuerySet:
        return UserQuerySet(self.model, using=self._db)

    def alive(self) -> UserQuerySet:
        return self.get_queryset().alive()

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        return (email or "").strip().lower()

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=self.normalize_email(username), deleted_at__isnull=True)

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("role", Role.SUPER_ADMIN)
        extra.setdefault("email_verified", True)
        return self.create_user(email, password, **extra)


def user_cache_key(user_id: int) -> str:
    """The key of a user in the short per-request cache (`accounts.core.selectors`)."""
    return f"accounts:user:{user_id}"


def user_cache_clear(user_id: int) -> None:
    cache.delete(user_cache_key(user_id))


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an email address. `is_staff`/`is_superuser` follow `role`."""

    email = models.EmailField(max_length=255, unique=True)
    name = models.CharField(max_length=255, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.USER, db_index=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, editable=False)
    email_verified = models.BooleanField(default=False)
    email_verified_at = models.DateTimeField(null=True, blank=True)

    bio = models.CharField(max_length=500, blank=True)
    location = models.CharField(max_length=255, blank=True)
    social_links = models.JSONField(default=dict, blank=True)
    avatar = models.CharField(max_length=255, blank=True)

    failed_login_attempts = models.PositiveIntegerField(default=0)
    last_failed_login = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_login_at = models.DateTimeField(null=True, blank=True)
    last_login_ip = models.GenericIPAddressField(null=True, blank=True)
    last_password_change_at = models.DateTimeField(null=True, blank=True)

    # One-time tokens, stored only as HMAC hashes (contract §13.1). A new one replaces the old.
    email_verification_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    email_verification_expires_at = models.DateTimeField(null=True, blank=True)
    email_verification_sent_at = models.DateTimeField(null=True, blank=True)
    password_reset_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    password_reset_expires_at = models.DateTimeField(null=True, blank=True)

    # Kept in step by accounts.auth.two_factor / accounts.auth.oauth, so that reading a user (every
    # authenticated request) needs no extra query.
    two_factor_enabled = models.BooleanField(default=False, editable=False)
    oauth_provider = models.CharField(max_length=20, blank=True, editable=False)

    # Second-factor lockout (contract §13.3): 5 wrong codes -> 15 minutes.
    otp_failed_attempts = models.PositiveIntegerField(default=0)
    otp_last_failed_at = models.DateTimeField(null=True, blank=True)
    otp_locked_until = models.DateTimeField(null=True, blank=True)

    deletion_requested_at = models.DateTimeField(null=True, blank=True)
    deletion_scheduled_at = models.DateTimeField(null=True, blank=True)
    deletion_reason = models.TextField(blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["name"]

    class Meta:
        ordering = ["id"]
        constraints = [
            # Emails are stored lowercased; this guards writes that bypass `save()`.
            # A soft-deleted account keeps its address reserved until it is purged or restored.
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = User.objects.normalize_email(self.email)
        self.is_staff = self.role in STAFF_ROLES
        self.is_superuser = self.role == Role.SUPER_ADMIN
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "role" in update_fields:
            kwargs["update_fields"] = {*update_fields, "is_staff", "is_superuser"}
        super().save(*args, **kwargs)
        if self.pk:  # token authentication reads users through a short cache
            user_cache_clear(self.pk)

    @property
    def role_level(self) -> int:
        return ROLE_LEVELS.get(Role(self.role), 0)

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def get_full_name(self) -> str:
        return self.display_name

    def get_short_name(self) -> str:
        return self.name.split(" ")[0] if self.name else self.email


class DeviceType(models.TextChoices):
    DESKTOP = "desktop", "Desktop"
    MOBILE = "mobile", "Mobile"
    TABLET = "tablet", "Tablet"
    BOT = "bot", "Bot"
    UNKNOWN = "unknown", "Unknown"


class AuthMethod(models.TextChoices):
    PASSWORD = "password", "Password"
    TWO_FACTOR = "2fa", "Password + 2FA"
    OAUTH_GOOGLE = "oauth_google", "Google"
    OAUTH_GITHUB = "oauth_github", "GitHub"


class DeviceFields(models.Model):
    """Parsed user agent and origin of a request (strings, never null: the React client calls
    string methods on them)."""

    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    device_info = models.CharField(max_length=255, blank=True)
    browser = models.CharField(max_length=100, blank=True)
    browser_version = models.CharField(max_length=50, blank=True)
    os = models.CharField(max_length=100, blank=True)
    os_version = models.CharField(max_length=50, blank=True)
    device_type = models.CharField(
        max_length=10, choices=DeviceType.choices, default=DeviceType.UNKNOWN
    )
    location = models.CharField(max_length=255, blank=True)

    class Meta:
        abstract = True


class UserSession(DeviceFields):
    """One sign-in (contract §13.2). The refresh token is stored only as a hash; rotated hashes
    are kept (RotatedRefreshToken) to detect reuse."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    refresh_token_hash = models.CharField(max_length=64, unique=True)
    auth_method = models.CharField(
        max_length=20, choices=AuthMethod.choices, default=AuthMethod.PASSWORD
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_active_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    revoked_reason = models.CharField(max_length=50, blank=True)
    django_session_key = models.CharField(max_length=40, blank=True)
    original_user = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="impersonating admin",
    )

    class Meta:
        ordering = ["-last_active_at"]
        indexes = [models.Index(fields=["user", "revoked_at", "expires_at"])]

    def __str__(self) -> str:
        return f"session {self.pk} of {self.user_id}"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class RotatedRefreshToken(models.Model):
    """A refresh token that was already exchanged: presenting it again is reuse."""

    session = models.ForeignKey(
        UserSession, on_delete=models.CASCADE, related_name="rotated_tokens"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    rotated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-rotated_at"]

    def __str__(self) -> str:
        return f"rotated token of session {self.session_id}"


class TokenBlacklist(models.Model):
    """Access tokens revoked before they expire (logout, password reset)."""

    token_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    expires_at = models.DateTimeField(db_index=True)
    reason = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "blacklisted token"

    def __str__(self) -> str:
        return f"{self.reason} until {self.expires_at:%Y-%m-%d %H:%M}"


class FailureReason(models.TextChoices):
    INVALID_PASSWORD = "invalid_password", "Invalid password"
    ACCOUNT_LOCKED = "account_locked", "Account locked"
    ACCOUNT_INACTIVE = "account_inactive", "Account inactive"
    TWO_FACTOR_FAILED = "2fa_failed", "2FA failed"


class LoginHistory(DeviceFields):
    """Every sign-in attempt on an existing account."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="login_history")
    success = models.BooleanField()
    failure_reason = models.CharField(max_length=20, choices=FailureReason.choices, blank=True)
    auth_method = models.CharField(
        max_length=20, choices=AuthMethod.choices, default=AuthMethod.PASSWORD
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "login history"
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        outcome = "ok" if self.success else self.failure_reason
        return f"{outcome} {self.user_id} {self.created_at:%Y-%m-%d %H:%M}"


class TOTPDevice(Device):
    """A TOTP authenticator (RFC 6238, SHA-1, 6 digits, 30 s) on django-otp's Device.

    Unlike django-otp's own TOTP plugin, the secret is stored encrypted (security.crypto), and
    the last accepted time step is kept so a code cannot be replayed. `confirmed` is False
    between setup and the first correct code; a user has at most one device.
    """

    user = models.OneToOneField(
        "accounts.User", on_delete=models.CASCADE, related_name="totp_device"
    )
    encrypted_secret = models.TextField()
    last_t = models.BigIntegerField(default=-1)
    created_at = models.DateTimeField(default=timezone.now)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "TOTP device"

    @property
    def secret(self) -> bytes:
        from security.crypto import decrypt

        return bytes.fromhex(decrypt(self.encrypted_secret))

    def verify_token(self, token: object) -> bool:
        """Accept the code for now ±1 step, never the same step twice."""
        from django_otp.oath import TOTP

        try:
            code = int(str(token))
        except (TypeError, ValueError):
            return False
        totp = TOTP(self.secret, step=30, digits=6)
        totp.time = timezone.now().timestamp()
        if totp.verify(code, tolerance=1, min_t=self.last_t + 1):
            self.last_t = totp.t()
            self.save(update_fields=["last_t"])
            return True
        return False


class BackupCode(models.Model):
    """A single-use recovery code (`XXXX-XXXX`), stored only as a hash."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="backup_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"backup code of {self.user_id}{' (used)' if self.used_at else ''}"


def default_email_notifications() -> dict[str, bool]:
    return {"marketing": False, "security": True, "updates": True, "weekly_digest": False}


class Theme(models.TextChoices):
    LIGHT = "light", "Light"
    DARK = "dark", "Dark"
    SYSTEM = "system", "System"


class Language(models.TextChoices):
    EN = "en", "English"
    ES = "es", "Español"
    FR = "fr", "Français"
    DE = "de", "Deutsch"
    IT = "it", "Italiano"
    PT = "pt", "Português"
    JA = "ja", "日本語"
    KO = "ko", "한국어"
    ZH = "zh", "中文"


class DateFormat(models.TextChoices):
    US = "MM/DD/YYYY", "MM/DD/YYYY"
    EU = "DD/MM/YYYY", "DD/MM/YYYY"
    ISO = "YYYY-MM-DD", "YYYY-MM-DD"
    DOTTED = "DD.MM.YYYY", "DD.MM.YYYY"
    ASIAN = "YYYY/MM/DD", "YYYY/MM/DD"


class TimeFormat(models.TextChoices):
    H12 = "12h", "12-hour"
    H24 = "24h", "24-hour"


class UserPreferences(models.Model):
    """Display and notification preferences (contract §3.1), created lazily with defaults."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="preferences")
    theme = models.CharField(max_length=10, choices=Theme.choices, default=Theme.SYSTEM)
    timezone = models.CharField(max_length=64, default="UTC")
    language = models.CharField(max_length=5, choices=Language.choices, default=Language.EN)
    date_format = models.CharField(max_length=10, choices=DateFormat.choices, default=DateFormat.US)
    time_format = models.CharField(max_length=3, choices=TimeFormat.choices, default=TimeFormat.H12)
    email_notifications = models.JSONField(default=default_email_notifications)
    created_at = models.DateTimeField(auto_now_add=True)  # `timezone` is a field here
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "user preferences"

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"


class ExportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"


class DataExport(models.Model):
    """A GDPR export of one user's data (contract §3.6): a ZIP in private storage."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="data_exports")
    status = models.CharField(
        max_length=12, choices=ExportStatus.choices, default=ExportStatus.PENDING, db_index=True
    )
    progress = models.PositiveSmallIntegerField(default=0, help_text="percent, for the page")
    file_path = models.CharField(max_length=255, blank=True)
    file_size = models.BigIntegerField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # One export in progress per user (contract: 409 while one is pending/processing).
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status__in=["pending", "processing"]),
                name="accounts_one_export_in_progress",
            )
        ]

    def __str__(self) -> str:
        return f"export {self.pk} of {self.user_id} ({self.status})"
