"""Keel's HTTP middleware, in the contract's pipeline order (see docs/architecture.md)."""
