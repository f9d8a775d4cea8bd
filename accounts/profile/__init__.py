"""The signed-in user's own account: profile, email change, preferences, picture, password,
activity — services, API (/users/me) and settings pages. Builds on auth and core."""
