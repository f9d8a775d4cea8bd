"""Admin API routes of the security app (contract §11): each resource's viewset on one router
(no trailing slash; `path()` converters, as in the rest of the URLconf)."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from security import api

router = SimpleRouter(trailing_slash=False, use_regex_path=False)
# The typed routes (email, email/test, security, site) are list-level actions: the router puts
# them before `admin/settings/<str:name>`.
router.register("admin/settings", api.SettingViewSet, basename="admin-settings")
router.register("admin/ip-blocklist", api.IPBlockViewSet, basename="admin-ip-block")
router.register("admin/audit-logs", api.AuditLogViewSet, basename="admin-audit-log")

urlpatterns = router.urls
