"""The privacy promises as code: deletion, masking, retention, audited staff access."""
