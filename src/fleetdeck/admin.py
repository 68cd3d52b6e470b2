"""`fleetdeck token create|list|revoke`: manage agent tokens through FleetService."""

from __future__ import annotations

import argparse
import os

import grpc

from fleetdeck.client import channel, token_from_env
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc

DEADLINE_SECONDS = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `fleetdeck token`."""
    parser.add_argument(
        "--controlplane",
        default=os.environ.get("FLEETDECK_CONTROLPLANE", "127.0.0.1:50051"),
        help="HOST:PORT",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a token for a host and print it once")
    create.add_argument("host")
    create.add_argument(
        "--enrollment",
        action="store_true",
        help="a one-time token the agent exchanges for its host token (30 min)",
    )
    listing = actions.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("host", nargs="?", default="")
    revoke = actions.add_parser("revoke", help="revoke a token by its id; the host's stream is closed")
    revoke.add_argument("token_id")


def run(args: argparse.Namespace) -> int:
    """Run the token action against the control plane, as the API token in FLEETDECK_TOKEN(_FILE)."""
    with channel(args.controlplane, token_from_env()) as chan:
        return run_with(fleet_grpc.FleetServiceStub(chan), args)


def run_with(stub: fleet_grpc.FleetServiceStub, args: argparse.Namespace) -> int:
    """Run the token action with a given stub (tests pass one bound to a test channel)."""
    try:
        if args.action == "create":
            created = stub.CreateAgentToken(
                fleet_pb.CreateAgentTokenRequest(host=args.host, enrollment=args.enrollment),
                timeout=DEADLINE_SECONDS,
            )
            print(created.token)
            kind = "enrollment token" if args.enrollment else "token"
            print(f"{kind} id {created.token_id} for host {args.host}; it is shown only once", flush=True)
        elif args.action == "list":
            tokens = stub.ListAgentTokens(
                fleet_pb.ListAgentTokensRequest(host=args.host), timeout=DEADLINE_SECONDS
            )
            for t in tokens.tokens:
                state = "revoked" if t.HasField("revoked_at") else "valid"
                print(f"{t.token_id}  {t.host:<20} {state:<8} created {t.created_at.ToJsonString()}")
        else:
            revoked = stub.RevokeAgentToken(
                fleet_pb.RevokeAgentTokenRequest(token_id=args.token_id), timeout=DEADLINE_SECONDS
            )
            print(f"revoked {revoked.token.token_id} of host {revoked.token.host}")
    except grpc.RpcError as error:
        print(f"fleetdeck: {error.details()}", flush=True)
        return 1
    return 0
