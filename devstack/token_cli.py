"""``scripts/token``: print a development JWT signed with the local stack's key."""

from __future__ import annotations

import argparse

from devstack.procs import REPO
from devstack.tokens import ensure_keypair, mint_token
from shared.auth.rbac import KNOWN_ROLES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenant", help="tenant id (omit only for service:* roles)")
    parser.add_argument("--role", action="append", required=True, choices=sorted(KNOWN_ROLES))
    parser.add_argument("--sub", default="dev-user", help="subject (user id)")
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    args = parser.parse_args()
    if args.tenant is None and not all(r.startswith("service:") for r in args.role):
        parser.error("--tenant is required for user roles")
    private, _ = ensure_keypair(REPO / ".local")
    print(
        mint_token(
            private.read_text(),
            tenant_id=args.tenant,
            roles=args.role,
            subject=args.sub,
            ttl_seconds=args.ttl,
        )
    )


if __name__ == "__main__":
    main()
