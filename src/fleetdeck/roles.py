"""The role each FleetService call needs, read from the contract (the `required_role` method option)."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import MethodDescriptor

from fleetdeck.v1 import fleet_service_pb2, options_pb2, types_pb2

FLEET_SERVICE = fleet_service_pb2.DESCRIPTOR.services_by_name["FleetService"]
"""The FleetService descriptor; its methods carry the role they need."""

_REQUIRED_ROLE: Any = options_pb2.required_role  # the generated stub types it as a plain FieldDescriptor


def required_role(method: str) -> int | None:
    """The least role `method` needs ("/fleetdeck.v1.FleetService/GetHost" or "GetHost").

    None for a method FleetService does not have, or one without the option: both are denied."""
    prefix = f"/{FLEET_SERVICE.full_name}/"
    if method.startswith("/"):
        if not method.startswith(prefix):
            return None
        method = method.removeprefix(prefix)
    descriptor = FLEET_SERVICE.methods_by_name.get(method)
    return None if descriptor is None else declared_role(descriptor)


def declared_role(method: MethodDescriptor) -> int | None:
    """The role `method`'s `required_role` option names; None without the option (or UNSPECIFIED)."""
    options = method.GetOptions()
    if not options.HasExtension(_REQUIRED_ROLE):
        return None
    role: int = options.Extensions[_REQUIRED_ROLE]
    return role if role != types_pb2.ROLE_UNSPECIFIED else None


def role_name(role: int) -> str:
    """ "viewer", "operator" or "admin" ("role 7" for a value the contract does not name)."""
    if role in types_pb2.Role.values():
        return types_pb2.Role.Name(role).removeprefix("ROLE_").lower()
    return f"role {role}"
