"""Response shapes of the platform endpoints (used for the OpenAPI schema)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

STATUSES = ["healthy", "degraded", "unhealthy"]


class IdField(serializers.IntegerField):
    """A database id in a request body: 1 to 2^63-1 (a bigint), also when sent as a string of
    digits (the edge check sees JSON numbers only), so an impossible id is a 400 naming the
    field on every database, never a lookup."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(**kwargs)  # type: ignore[arg-type]


class HealthComponentSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=STATUSES)
    message = serializers.CharField(required=False)
    latency = serializers.CharField(required=False, help_text="e.g. `1.52ms`")


class VersionSerializer(serializers.Serializer):
    version = serializers.CharField()
    build_time = serializers.CharField(required=False)
    git_commit = serializers.CharField(required=False)


class RuntimeSerializer(serializers.Serializer):
    python_version = serializers.CharField()
    django_version = serializers.CharField()
    pid = serializers.IntegerField()
    memory_rss = serializers.IntegerField(help_text="Peak resident set size in bytes")


class HealthSerializer(serializers.Serializer):
    overall_status = serializers.ChoiceField(choices=STATUSES)
    timestamp = serializers.DateTimeField()
    uptime = serializers.CharField(help_text="e.g. `3h12m5s`")
    version = VersionSerializer()
    components = HealthComponentSerializer(many=True)
    runtime = RuntimeSerializer(required=False)


class ReadinessSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ready", "not_ready"])
    database = serializers.ChoiceField(choices=STATUSES)
    cache = serializers.ChoiceField(choices=["healthy", "degraded", "unavailable"])
    timestamp = serializers.DateTimeField()


class LivenessSerializer(serializers.Serializer):
    status = serializers.CharField()
    timestamp = serializers.DateTimeField()


class CsrfTokenSerializer(serializers.Serializer):
    csrf_token = serializers.CharField()
    expires_in = serializers.CharField(help_text="Seconds, as a string (Go compatibility)")


def envelope_of(
    inner: type[serializers.Serializer], name: str, many: bool = False, doc: str | None = None
) -> type:
    """The E shape `{success, message, data}` around a documented object (OpenAPI only); `doc`
    is the component's description.

    Always one object, also around a list (`many=False` tells drf-spectacular so, which would
    otherwise document the response of a viewset's `list` action as an array)."""
    envelope = type(
        name,
        (serializers.Serializer,),
        {
            "__doc__": doc,
            "success": serializers.BooleanField(),
            "message": serializers.CharField(),
            "data": inner(many=many),
        },
    )
    return extend_schema_serializer(many=False)(envelope)
