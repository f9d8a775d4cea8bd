from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.core.requests import request_user
from config.errors import DomainError
from organizations import services
from organizations.access import OrgActor
from organizations.models import Invitation, Membership, Organization, OrgAPIKey, OrgRole, Plan

AdminAction = Callable[[admin.ModelAdmin, HttpRequest, QuerySet], None]


class MembershipInline(admin.TabularInline):
    """Read-only: roles and removals go through the services (owner rule, cached roles,
    events), from the members admin's actions or the API."""

    model = Membership
    fk_name = "organization"
    extra = 0
    fields = ("user", "role", "status", "joined_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class InvitationInline(admin.TabularInline):
    model = Invitation
    extra = 0
    fields = ("email", "role", "invited_by", "expires_at", "accepted_at", "declined_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class APIKeyInline(admin.TabularInline):
    model = OrgAPIKey
    extra = 0
    fields = ("name", "prefix", "role", "created_by", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def _set_plan(plan: str) -> AdminAction:
    @admin.action(description=f"Change plan to {plan}")
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        changed = 0
        for org in queryset:
            try:
                services.organization_plan_set(
                    organization=org, plan=plan, actor=request_user(request)
                )
                changed += 1
            except DomainError as exc:
                modeladmin.message_user(request, f"{org.slug}: {exc.message}", messages.ERROR)
        if changed:
            modeladmin.message_user(request, f"Plan set to {plan} for {changed} org(s).")

    action.__name__ = f"set_plan_{plan}"
    return action


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "plan", "created_by", "created_at", "deleted_at")
    list_filter = ("plan", ("deleted_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "slug", "stripe_customer_id")
    raw_id_fields = ("created_by",)
    inlines = [MembershipInline, InvitationInline, APIKeyInline]
    actions = [_set_plan(p) for p in Plan.values]


def _change_role(role: str) -> AdminAction:
    @admin.action(description=f"Make {role}")
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        for membership in queryset.select_related("organization"):
            actor = OrgActor(organization=membership.organization, role=OrgRole.OWNER)
            try:
                services.member_role_change(actor=actor, user_id=membership.user_id, role=role)
            except DomainError as exc:
                modeladmin.message_user(request, f"{membership}: {exc.message}", messages.ERROR)

    action.__name__ = f"make_{role}"
    return action


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Memberships change only through the services (the org keeps an owner, cached roles are
    cleared, members are told): actions below, no direct edits."""

    list_display = ("organization", "user", "role", "status", "joined_at")
    list_filter = ("role", "status")
    search_fields = ("organization__slug", "user__email")
    list_select_related = ("organization", "user")
    readonly_fields = ("organization", "user", "role", "status", "invited_by", "joined_at")
    exclude = ("last_selected_at",)
    actions = [*(_change_role(r) for r in OrgRole.values), "remove_members"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description="Remove from the organization")
    def remove_members(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        from organizations.services import member_remove

        for membership in queryset.select_related("organization"):
            actor = OrgActor(organization=membership.organization, role=OrgRole.OWNER)
            try:
                member_remove(actor=actor, user_id=membership.user_id)
            except DomainError as exc:
                self.message_user(request, f"{membership}: {exc.message}", messages.ERROR)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "organization", "role", "invited_by", "expires_at", "state")
    list_filter = ("role",)
    search_fields = ("email", "organization__slug")
    list_select_related = ("organization", "invited_by")
    readonly_fields = (
        "organization",
        "email",
        "role",
        "invited_by",
        "expires_at",
        "accepted_at",
        "declined_at",
        "cancelled_at",
        "created_at",
    )
    exclude = ("token_hash",)
    actions = ("resend",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Resend the invitation email (new link, 7 more days)")
    def resend(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        from organizations.services import invitation_resend

        sent = 0
        for invitation in queryset.select_related("organization"):
            if invitation.state == "pending":
                actor = OrgActor(organization=invitation.organization, role=OrgRole.OWNER)
                invitation_resend(actor=actor, invitation_id=invitation.pk)
                sent += 1
        self.message_user(request, f"Resent {sent} invitation(s).")


@admin.register(OrgAPIKey)
class OrgAPIKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "organization", "role", "last_used_at", "revoked_at")
    list_filter = ("role", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "prefix", "organization__slug")
    list_select_related = ("organization",)
    exclude = ("key_hash",)
    readonly_fields = (
        "organization",
        "name",
        "prefix",
        "role",
        "created_by",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke the selected keys now")
    def revoke(self, request: HttpRequest, queryset: QuerySet[OrgAPIKey]) -> None:
        from organizations.services import api_key_revoke

        for key in queryset.filter(revoked_at__isnull=True).select_related("organization"):
            actor = OrgActor(organization=key.organization, role=OrgRole.OWNER)
            api_key_revoke(actor=actor, key_id=key.pk)
        self.message_user(request, "Keys revoked.")
