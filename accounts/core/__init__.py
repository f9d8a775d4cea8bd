"""Accounts core: what every other layer of accounts builds on — tokens, sign-in links,
lockout, roles, devices, password rules, the user cache, the email jobs. Imports no other
accounts layer."""
