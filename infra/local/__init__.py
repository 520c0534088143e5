"""A real Kafka broker and a real MongoDB-compatible store (FerretDB) on this machine, without Docker.

`python3 -m infra.local up|down|status`, or `infra.local.stack.LocalStack` from Python (pytest fixtures).
"""
