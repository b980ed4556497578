"""The Ferry wire protocol: pure, typed, versioned messages and their codec."""
