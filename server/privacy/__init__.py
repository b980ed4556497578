"""The privacy promises as features: taking your data with you, and more (issue 15)."""
