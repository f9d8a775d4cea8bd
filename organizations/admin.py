from __future__ import annotations

from django.contrib import admin

from organizations.models import Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "organization"
    extra = 0
    raw_id_fields = ("user", "invited_by")
    fields = ("user", "role", "status", "joined_at")


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "plan", "created_by", "created_at", "deleted_at")
    list_filter = ("plan", "deleted_at")
    search_fields = ("name", "slug", "stripe_customer_id")
    raw_id_fields = ("created_by",)
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("organization", "user", "role", "status", "joined_at")
    list_filter = ("role", "status")
    search_fields = ("organization__slug", "user__email")
    raw_id_fields = ("organization", "user", "invited_by")
    list_select_related = ("organization", "user")
