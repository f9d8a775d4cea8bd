"""The offline Stripe sandbox: a Stripe-compatible fake API (development and tests only)."""
