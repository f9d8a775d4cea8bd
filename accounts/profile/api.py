"""The signed-in user's own account (contract §3.3, §3.5): profile, preferences, password,
avatar, connected accounts, activity; and the public avatar route."""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponseBase
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.viewsets import GenericViewSet

from accounts.auth import oauth
from accounts.auth.api import PROVIDER_PARAMETER, current_session_id
from accounts.auth.serializers import UserEnvelopeOutput, iso, user_data
from accounts.core import selectors
from accounts.core.requests import AuthenticatedRequest
from accounts.models import User
from accounts.profile import services as profile
from accounts.profile.serializers import (
    ActivityPage,
    AvatarEnvelopeOutput,
    ConnectedAccountOutput,
    PasswordChangeInput,
    PreferencesInput,
    PreferencesOutput,
    ProfileInput,
)
from config.errors import BadRequest, NotFound
from config.net import request_client_ip
from config.pagination import int_param
from config.responses import envelope
from config.viewsets import validated
from security.serializers import MessageOutput

PROFILE_RESPONSES = {
    200: UserEnvelopeOutput,
    409: OpenApiResponse(description="email: An account with this email already exists"),
}


# Viewsets carry no class docstrings: drf-spectacular would publish them as the description of
# every operation. The /users/me paths are singletons, which no router route fits: they are
# mapped explicitly in accounts/urls.py; the collections under them are on its router.


# GET/PUT/PATCH /users/me (the profile) and PUT /users/me/password.
@extend_schema(tags=["account"])
class ProfileViewSet(GenericViewSet):
    def get_serializer_class(self) -> type[BaseSerializer]:
        return {
            "update": ProfileInput,
            "partial_update": ProfileInput,
            "password": PasswordChangeInput,
        }[self.action]

    @extend_schema(operation_id="me_get", responses={200: UserEnvelopeOutput})
    def retrieve(self, request: AuthenticatedRequest) -> Response:
        return envelope("User retrieved successfully", user_data(request.user))

    @extend_schema(operation_id="me_update", request=ProfileInput, responses=PROFILE_RESPONSES)
    def update(self, request: AuthenticatedRequest) -> Response:
        # Any subset of the fields, as for PATCH (every field of ProfileInput is optional).
        user = profile.user_profile_update(user=request.user, data=validated(self, request.data))
        return envelope("Profile updated successfully", user_data(user))

    @extend_schema(
        operation_id="me_partial_update", request=ProfileInput, responses=PROFILE_RESPONSES
    )
    def partial_update(self, request: AuthenticatedRequest) -> Response:
        return self.update(request)

    @extend_schema(
        operation_id="me_password", request=PasswordChangeInput, responses={200: MessageOutput}
    )
    def password(self, request: AuthenticatedRequest) -> Response:
        profile.password_change(
            user=request.user,
            **validated(self, request.data),
            keep_session_id=current_session_id(request),
            ip=request_client_ip(request) or "",
        )
        return envelope("Password changed successfully")


# GET/PUT /users/me/preferences.
@extend_schema(tags=["account"])
class PreferencesViewSet(GenericViewSet):
    serializer_class = PreferencesInput

    @extend_schema(operation_id="me_preferences", responses={200: PreferencesOutput})
    def retrieve(self, request: AuthenticatedRequest) -> Response:
        return Response(PreferencesOutput(profile.preferences_get(user=request.user)).data)

    @extend_schema(
        operation_id="me_preferences_update",
        request=PreferencesInput,
        responses={200: PreferencesOutput},
    )
    def update(self, request: AuthenticatedRequest) -> Response:
        prefs = profile.preferences_update(user=request.user, data=validated(self, request.data))
        return Response(PreferencesOutput(prefs).data)


class AnyBodyParser(BaseParser):
    """Avatars arrive as multipart, as a raw `image/*` body, or as a multipart body sent with
    the wrong Content-Type (the React client posts `application/json`; contract §0.11)."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return stream.read() if stream is not None else b""


AVATAR_UPLOAD_SCHEMA = {
    "type": "object",
    "properties": {"avatar": {"type": "string", "format": "binary"}},
}
BOUNDARY = re.compile(rb"^--([!-~]{1,200})\r\n")


def _uploaded_bytes(request: Request) -> bytes:
    """The image bytes of an avatar upload, whatever way they came."""
    raw = request._request.body
    content_type = request.content_type or ""
    match = BOUNDARY.match(raw[:256])
    if content_type.startswith("multipart/") or match:
        boundary = match.group(1).decode() if match else ""
        meta = dict(request._request.META)
        if not content_type.startswith("multipart/"):
            meta["CONTENT_TYPE"] = f"multipart/form-data; boundary={boundary}"
        meta["CONTENT_LENGTH"] = str(len(raw))
        try:
            _, files = MultiPartParser(meta, BytesIO(raw), request._request.upload_handlers).parse()
        except MultiPartParserError:
            raise BadRequest("avatar: Malformed multipart body") from None
        upload = files.get("avatar") or next((files.get(name) for name in files), None)
        if upload is None:
            raise BadRequest("avatar: No file in the `avatar` field")
        return upload.read()
    if content_type.startswith("image/"):
        return raw
    raise BadRequest("avatar: Send the image as multipart `avatar` or as an image/* body")


# POST/DELETE /users/me/avatar: the signed-in user's picture.
@extend_schema(tags=["account"])
class AvatarViewSet(GenericViewSet):
    parser_classes = [AnyBodyParser]

    @extend_schema(
        operation_id="me_avatar_upload",
        request={"multipart/form-data": AVATAR_UPLOAD_SCHEMA},
        responses={200: AvatarEnvelopeOutput},
    )
    def create(self, request: AuthenticatedRequest) -> Response:
        url = profile.avatar_set(user=request.user, content=_uploaded_bytes(request))
        return envelope("Avatar updated successfully", {"avatar_url": url})

    @extend_schema(operation_id="me_avatar_delete", responses={200: MessageOutput})
    def destroy(self, request: AuthenticatedRequest) -> Response:
        profile.avatar_delete(user=request.user)
        return envelope("Avatar removed")


# GET /users/{user_id}/avatar: anyone may fetch a user's picture.
@extend_schema(tags=["users"])
class UserAvatarViewSet(GenericViewSet):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="user_avatar",
        parameters=[OpenApiParameter("v", str)],
        responses={(200, "image/png"): bytes},
    )
    def retrieve(self, request: Request, user_id: int) -> HttpResponseBase:
        """Pub: a user's avatar picture (the re-encoded PNG), cacheable for a day."""
        path = User.objects.alive().filter(pk=user_id).values_list("avatar", flat=True).first()
        if not path or not default_storage.exists(path):
            raise NotFound("Avatar not found")
        response = FileResponse(default_storage.open(path, "rb"), content_type="image/png")
        response["Cache-Control"] = "public, max-age=86400"
        response["X-Content-Type-Options"] = "nosniff"
        return response


# GET /users/me/connected-accounts and DELETE /users/me/connected-accounts/{provider}.
@extend_schema(tags=["account"])
class ConnectedAccountViewSet(GenericViewSet):
    lookup_field = "provider"
    lookup_value_converter = "str"

    @extend_schema(
        operation_id="me_connected_accounts", responses={200: ConnectedAccountOutput(many=True)}
    )
    def list(self, request: AuthenticatedRequest) -> Response:
        accounts = oauth.oauth_accounts(user=request.user)
        return Response(
            [
                {
                    "provider": a.provider,
                    "provider_user_id": a.uid,
                    "email": oauth.account_email(a),
                    "connected_at": iso(a.date_joined),
                }
                for a in accounts
            ]
        )

    @extend_schema(
        operation_id="me_connected_account_unlink",
        parameters=[PROVIDER_PARAMETER],
        responses={200: MessageOutput},
    )
    def destroy(self, request: AuthenticatedRequest, provider: str) -> Response:
        oauth.oauth_account_unlink(user=request.user, provider=provider)
        return envelope(f"{provider.title()} account disconnected")


# GET /users/me/activity: the signed-in user's latest audit entries.
@extend_schema(tags=["account"])
class ActivityViewSet(GenericViewSet):
    @extend_schema(
        operation_id="me_activity",
        parameters=[OpenApiParameter("limit", int)],
        responses={200: ActivityPage},
    )
    def list(self, request: AuthenticatedRequest) -> Response:
        limit = int_param(request, "limit", default=10, minimum=1, maximum=50)
        entries, total = selectors.activity_list(user=request.user, limit=limit)
        activities = [_activity(e) for e in entries]
        return Response({"activities": activities, "count": len(activities), "total": total})


def _activity(entry: Any) -> dict[str, Any]:
    """One audit entry as an activity item (no `changes` for sign-ins and sign-outs)."""
    item: dict[str, Any] = {
        "id": entry.pk,
        "target_type": entry.target_type,
        "action": entry.action,
        "created_at": iso(entry.created_at),
    }
    if entry.changes and entry.action not in ("login", "logout"):
        item["changes"] = entry.changes
    return item
