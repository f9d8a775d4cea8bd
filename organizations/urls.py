"""Organizations API routes (contract §4): every resource's viewset on one router (the
contract's paths have no trailing slash; `path()` converters, as in the rest of the URLconf)."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from organizations import api

ORG = "organizations/<str:slug>"

router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("organizations", api.OrganizationViewSet, basename="organization")
router.register(f"{ORG}/members", api.MemberViewSet, basename="organization-member")
router.register(f"{ORG}/invitations", api.InvitationViewSet, basename="organization-invitation")
router.register(f"{ORG}/api-keys", api.APIKeyViewSet, basename="organization-api-key")
router.register("invitations", api.InvitationTokenViewSet, basename="invitations")

urlpatterns = router.urls
