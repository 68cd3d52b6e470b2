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


RANKS: dict[int, int] = {
    types_pb2.ROLE_VIEWER: 1,
    types_pb2.ROLE_OPERATOR: 2,
    types_pb2.ROLE_DEPLOYER: 3,
    types_pb2.ROLE_ADMIN: 4,
}
"""How much each role may do, lowest first: the one place roles are ordered (never by enum number)."""

ROLES: tuple[int, ...] = tuple(sorted(RANKS, key=RANKS.__getitem__))
"""Every valid role, lowest first."""


def rank(role: int) -> int:
    """A role's rank; 0 for UNSPECIFIED or a value the contract does not name (allowed nothing)."""
    return RANKS.get(role, 0)


def allows(role: int, needed: int) -> bool:
    """Whether a caller with `role` may make a call that needs `needed`."""
    return rank(role) > 0 and rank(role) >= rank(needed)


def highest(roles: list[int], default: int) -> int:
    """The highest-ranked of `roles` (`default` when there are none)."""
    return max(roles, key=rank, default=default)


def check_role(role: int) -> None:
    """ValueError naming the valid roles when `role` is not one a token or user may hold."""
    if role not in RANKS:
        names = ", ".join(types_pb2.Role.Name(r) for r in ROLES)
        raise ValueError(f"role must be one of {names}")


def role_name(role: int) -> str:
    """ "viewer", "operator", "deployer" or "admin" ("role 7" for a value the contract does not name)."""
    if role in types_pb2.Role.values():
        return types_pb2.Role.Name(role).removeprefix("ROLE_").lower()
    return f"role {role}"
