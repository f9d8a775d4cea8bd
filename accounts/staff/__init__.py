"""Staff tools for accounts: user administration, roles, impersonation, stats — services
and the admin API. Builds on profile, auth and core; independent of privacy."""
