"""Billing test fixtures: `sandbox` (the Stripe fake), `realtime` and `committed` are shared
(tests/conftest.py, tests/stripe_sandbox.py, tests/realtime_capture.py)."""
