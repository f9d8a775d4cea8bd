"""Signing in and staying signed in: sessions, login, registration, two-factor, email
verification and password reset, OAuth, the allauth adapters and stages, their API and pages.
Builds on accounts.core only."""
