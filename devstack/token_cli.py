"""``scripts/token``: print a token the local stack accepts.

- a CRM user's JWT, signed with the local stand-in for the CRM's identity provider:
  ``--tenant demo --role admin [--sub USER]``;
- a service identity's OIDC token from the local stand-in for Google (devstack/identity.py), as
  Cloud Scheduler, Cloud Tasks or Pub/Sub would attach it: ``--service scheduler --audience URL``
  (the function's URL, as ``scripts/up`` prints it). Needs ``scripts/up`` running.
"""

from __future__ import annotations

import argparse

from devstack.procs import REPO
from devstack.tokens import GOOGLE_PREFIX, ensure_keypair, mint_google_token, mint_token
from devstack.units import identity_email, load_units
from shared.core.auth.rbac import KNOWN_ROLES

STATE = REPO / ".local"


def _running_stack_env() -> dict[str, str]:
    path = STATE / "stack.env"
    if not path.exists():
        raise SystemExit("no local stack is running (start it with ./scripts/up)")
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    user_roles = sorted(r for r in KNOWN_ROLES if not r.startswith("service:"))
    parser.add_argument("--tenant", help="tenant id (user tokens)")
    parser.add_argument("--role", action="append", choices=user_roles)
    parser.add_argument("--sub", default="dev-user", help="subject (user id)")
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    parser.add_argument(
        "--service", choices=sorted(load_units()["identities"]), help="a service identity"
    )
    parser.add_argument("--audience", help="with --service: the target function's URL")
    args = parser.parse_args()
    if args.service:
        if not args.audience:
            parser.error("--audience (the function's URL) is required with --service")
        env = _running_stack_env()
        google_pem = ensure_keypair(STATE, GOOGLE_PREFIX)[0].read_text()
        email = identity_email(args.service, env["GOOGLE_CLOUD_PROJECT"])
        issuer = env["SERVICE_TOKEN_ISSUER"]
        print(mint_google_token(google_pem, issuer=issuer, email=email, audience=args.audience))
        return
    if not args.role or not args.tenant:
        parser.error("--tenant and --role are required for a user token (or use --service)")
    private, _ = ensure_keypair(STATE)
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
