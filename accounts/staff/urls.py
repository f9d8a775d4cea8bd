"""Staff routes: /users (staff parts), /admin/users*, /admin/stats, impersonation (§3.2, §11)."""

from __future__ import annotations

from django.urls import path

from accounts.staff import api as staff_api

urlpatterns = [
    path("users", staff_api.UserListView.as_view(), name="users"),
    path("users/<int:user_id>", staff_api.UserDetailView.as_view(), name="user-detail"),
    path("users/<int:user_id>/role", staff_api.UserRoleView.as_view(), name="user-role"),
    path("admin/stats", staff_api.AdminStatsView.as_view(), name="admin-stats"),
    path("admin/users", staff_api.AdminUserSearchView.as_view(), name="admin-users"),
    path(
        "admin/users/deleted",
        staff_api.AdminDeletedUsersView.as_view(),
        name="admin-users-deleted",
    ),
    path(
        "admin/users/<int:user_id>/role",
        staff_api.AdminUserRoleView.as_view(),
        name="admin-user-role",
    ),
    path(
        "admin/users/<int:user_id>/deactivate",
        staff_api.AdminUserDeactivateView.as_view(),
        name="admin-user-deactivate",
    ),
    path(
        "admin/users/<int:user_id>/reactivate",
        staff_api.AdminUserReactivateView.as_view(),
        name="admin-user-reactivate",
    ),
    path(
        "admin/users/<int:user_id>/restore",
        staff_api.AdminUserRestoreView.as_view(),
        name="admin-user-restore",
    ),
    path("admin/impersonate", staff_api.ImpersonateView.as_view(), name="admin-impersonate"),
    path(
        "admin/stop-impersonate",
        staff_api.StopImpersonateView.as_view(),
        name="admin-stop-impersonate",
    ),
]
