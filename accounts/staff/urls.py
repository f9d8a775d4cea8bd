"""Staff routes: /users (staff parts), /admin/users*, /admin/stats, impersonation (§3.2, §11):
the user resources on a router (no trailing slash; `path()` converters, as in the rest of the
URLconf); the stats singleton and the two impersonation routes mapped explicitly."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts.staff import api as staff_api

router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("users", staff_api.UserViewSet, basename="user")
router.register("admin/users", staff_api.AdminUserViewSet, basename="admin-user")

impersonation = staff_api.ImpersonationViewSet.as_view

urlpatterns = [
    *router.urls,
    path(
        "admin/stats",
        staff_api.AdminStatsViewSet.as_view({"get": "retrieve"}),
        name="admin-stats",
    ),
    path("admin/impersonate", impersonation({"post": "create"}), name="admin-impersonate"),
    path("admin/stop-impersonate", impersonation({"post": "stop"}), name="admin-stop-impersonate"),
]
