"""Pure parts of the Android (ADB) driver: output parsing and the error tree; no I/O."""
