"""GDPR: data export and account deletion (request, cancel, purge) — services, jobs, API,
pages. Builds on profile, auth and core; independent of staff."""
