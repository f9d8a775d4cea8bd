"""Keel's second-factor stage in allauth's login flow: a user with confirmed TOTP is sent to
/accounts/2fa/ after the password (or OAuth) step, and signed in only after a right code."""

from __future__ import annotations

from typing import Any

from allauth.account.stages import LoginStage

from accounts.auth.allauth_internals import headed_redirect_response
from accounts.auth.two_factor import two_factor_enabled


class TwoFactorStage(LoginStage):
    key = "keel_2fa"
    urlname = "account_two_factor"

    def handle(self) -> tuple[Any, bool]:

        user = self.login.user
        if user is None or not two_factor_enabled(user):
            return None, True
        return headed_redirect_response(self.urlname), True
