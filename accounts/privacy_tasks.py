"""Jobs of the privacy features: GDPR data export and account deletion (contract §3.6–3.8, §14).

(Being built: generate_data_export, cleanup_expired_exports, send_account_deletion_email,
purge_deleted_accounts.)"""

from __future__ import annotations
