from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from config.errors import DomainError
from security import services, system_settings
from security.models import AuditLog, IdempotencyKey, IPBlock, SystemSetting


class SystemSettingForm(forms.ModelForm):
    value_input = forms.CharField(
        label="Value", required=False, widget=forms.TextInput(attrs={"size": 60}), help_text=""
    )

    class Meta:
        model = SystemSetting
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        defn = system_settings.DEFINITIONS.get(self.instance.key)
        if defn is None:
            return
        field = self.fields["value_input"]
        field.help_text = f"{defn.description} (type: {defn.type}, default: {defn.default!r})"
        if defn.sensitive:
            field.widget = forms.PasswordInput(
                render_value=False, attrs={"placeholder": "unchanged"}
            )
        else:
            value = system_settings.get_setting(defn.key)
            field.initial = str(value).lower() if isinstance(value, bool) else value

    def clean_value_input(self) -> Any:
        defn = system_settings.DEFINITIONS[self.instance.key]
        raw = self.cleaned_data["value_input"]
        if defn.sensitive and raw == "":
            return None  # keep the stored secret
        try:
            return system_settings.coerce(defn, raw)
        except DomainError as exc:
            raise ValidationError(
                exc.details[0]["message"] if exc.details else exc.message
            ) from exc


@admin.register(SystemSetting)
class SystemSettingAdmin(admin.ModelAdmin):
    form = SystemSettingForm
    list_display = ("key", "category", "shown_value", "is_customized", "updated_by", "updated_at")
    list_filter = ("category", "is_customized", "is_sensitive")
    search_fields = ("key", "description")
    readonly_fields = ("key", "category", "description", "is_sensitive", "updated_by", "updated_at")
    fields = (
        "key",
        "category",
        "description",
        "value_input",
        "is_sensitive",
        "updated_by",
        "updated_at",
    )

    @admin.display(description="value")
    def shown_value(self, obj: SystemSetting) -> Any:
        return system_settings.display_value(obj.key, system_settings.get_setting(obj.key))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # settings are defined in code

    def has_delete_permission(self, request: HttpRequest, obj: SystemSetting | None = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: SystemSetting, form: forms.ModelForm, change: bool
    ) -> None:
        value = form.cleaned_data["value_input"]
        if value is None:
            return
        services.system_settings_update(values={obj.key: value}, actor=request.user)


@admin.action(description="Block the IP address of the selected entries")
def block_ip_addresses(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> None:
    """Shared by the audit log (and login history) admin."""
    blocked = 0
    for ip in sorted({str(ip) for ip in queryset.values_list("ip_address", flat=True) if ip}):
        try:
            services.ip_block_create(
                actor=request.user,
                ip_address=ip,
                reason=f"Blocked from the {queryset.model._meta.verbose_name} admin",
                caller_ip=getattr(request, "client_ip", None),
            )
            blocked += 1
        except DomainError as exc:
            modeladmin.message_user(request, f"{ip}: {exc.message}", messages.WARNING)
    if blocked:
        modeladmin.message_user(request, f"Blocked {blocked} IP address(es).", messages.SUCCESS)


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "action",
        "target_type",
        "target_id",
        "actor",
        "ip_address",
        "request_id",
    )
    list_filter = ("action", "target_type", "created_at")
    search_fields = (
        "action",
        "target_type",
        "target_id",
        "actor__email",
        "ip_address",
        "request_id",
    )
    date_hierarchy = "created_at"
    list_select_related = ("actor",)
    actions = [block_ip_addresses]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False


class IPBlockForm(forms.ModelForm):
    """Adding a block applies the same rules as the API (services.ip_block_validate)."""

    caller_ip: str | None = None

    class Meta:
        model = IPBlock
        fields = ["ip_address", "ip_range", "reason", "block_type", "expires_at"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance.pk or self.errors:
            return cleaned
        try:
            services.ip_block_validate(
                ip_address=cleaned.get("ip_address"),
                ip_range=cleaned.get("ip_range"),
                block_type=cleaned.get("block_type") or "manual",
                expires_at=cleaned.get("expires_at"),
                caller_ip=self.caller_ip,
            )
        except DomainError as exc:
            field = exc.details[0]["field"] if exc.details else None
            message = exc.details[0]["message"] if exc.details else exc.message
            self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(IPBlock)
class IPBlockAdmin(admin.ModelAdmin):
    form = IPBlockForm
    list_display = (
        "__str__",
        "block_type",
        "is_active",
        "expires_at",
        "hit_count",
        "last_hit_at",
        "created_at",
    )
    list_filter = ("is_active", "block_type")
    search_fields = ("ip_address", "ip_range", "reason")
    readonly_fields = ("hit_count", "last_hit_at", "created_by", "created_at", "is_active")
    actions = ["lift_blocks"]

    def get_form(
        self, request: HttpRequest, obj: IPBlock | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        # Django builds a subclass of `self.form`, which is an IPBlockForm.
        form = cast(type[IPBlockForm], super().get_form(request, obj, change=change, **kwargs))
        form.caller_ip = getattr(request, "client_ip", None)
        return form

    def get_readonly_fields(
        self, request: HttpRequest, obj: IPBlock | None = None
    ) -> tuple[str, ...]:
        if obj is not None:  # a block is lifted, not edited
            return (*self.readonly_fields, "ip_address", "ip_range", "block_type", "expires_at")
        return self.readonly_fields

    def save_model(
        self, request: HttpRequest, obj: IPBlock, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            services.ip_block_reason_set(block_id=obj.pk, reason=obj.reason, actor=request.user)
            return
        data = form.cleaned_data  # validated by IPBlockForm.clean
        obj.pk = services.ip_block_create(
            actor=request.user,
            ip_address=data.get("ip_address"),
            ip_range=data.get("ip_range"),
            reason=data.get("reason") or "",
            block_type=data.get("block_type") or "manual",
            expires_at=data.get("expires_at"),
            caller_ip=getattr(request, "client_ip", None),
        ).pk

    @admin.action(description="Lift the selected blocks")
    def lift_blocks(self, request: HttpRequest, queryset: QuerySet[IPBlock]) -> None:
        for block in queryset.filter(is_active=True):
            services.ip_block_deactivate(block_id=block.pk, actor=request.user)
        self.message_user(request, "Blocks lifted.", messages.SUCCESS)

    def has_delete_permission(self, request: HttpRequest, obj: IPBlock | None = None) -> bool:
        return False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = (
        "principal",
        "key",
        "method",
        "path",
        "state",
        "status_code",
        "created_at",
        "expires_at",
    )
    list_filter = ("state", "method")
    search_fields = ("principal", "key", "path")
    exclude = ("response_body",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: IdempotencyKey | None = None
    ) -> bool:
        return False
