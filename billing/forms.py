"""Forms of the billing pages (billing.views). They only shape input: whether a price can be
bought, and by whom, is the services' to say (a DomainError comes back)."""

from __future__ import annotations

from django import forms

# Where a checkout form goes back to when the checkout cannot start (the page it was on).
PERSONAL_RETURNS = ("billing", "pricing")
ORGANIZATION_RETURNS = ("org_billing", "pricing")


class CheckoutForm(forms.Form):
    price_id = forms.CharField(max_length=255)
    back = forms.CharField(max_length=20, required=False)

    def back_to(self, allowed: tuple[str, ...]) -> str:
        """The page to go back to: one of `allowed` (the first when none or another is given)."""
        value = self.data.get("back") or ""
        return value if value in allowed else allowed[0]
