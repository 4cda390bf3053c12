"""The local stack: real emulators, each function as its own process, and a local gateway.

Used by ``scripts/up`` and by the test fixtures; never deployed.
"""
