"""The privacy promises as code: taking your data with you, deletion, masking, retention,
audited staff access."""
