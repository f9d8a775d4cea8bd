"""Shared pieces of Keel's API viewsets (docs/architecture.md, "Viewset conventions").

Imported by DRF's settings (`DEFAULT_METADATA_CLASS`) while `rest_framework.views` loads, so
it imports nothing of DRF's views at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.metadata import SimpleMetadata

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.viewsets import GenericViewSet


class PlainMetadata(SimpleMetadata):
    """OPTIONS answers name, description, renders and parses (`DEFAULT_METADATA_CLASS`): no
    `actions`, which for a generic view would describe its serializer and look an object up."""

    def determine_actions(self, request: Request, view: Any) -> dict[str, Any]:
        return {}


def validated(view: GenericViewSet, data: Any) -> dict[str, Any]:
    """The request input, parsed by the action's serializer (`get_serializer_class`): the one
    way an API action validates its input (a 400 VALIDATION_ERROR naming the fields)."""
    serializer = view.get_serializer(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
