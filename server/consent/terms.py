"""The terms of use and privacy notice users accept, and their version.

The texts are Markdown files (``terms.md``, ``privacy.md``) in ``config.terms_dir``,
default the ones shipped in ``server/legal``; ``config.terms_version`` names the current
version. Changing the version (``FERRY_TERMS_VERSION``) asks every user to accept again:
the acceptance of each user is recorded with its version and time (``terms_acceptances``).

How it is enforced: sign-up requires the current version (``accept_terms``); after
sign-in, ``GET /api/v1/me/terms`` says whether the account accepted it, and when it
accepted an earlier version (``must_accept``) the web client shows a dialog that must be
answered (accept, or sign out) before anything else. The API does not refuse other
requests meanwhile (the gentler choice: a bridge or a third-party app of the account
keeps working while its owner reads the new text). Accounts that never accepted any
version (made by an operator with ``ferry admin create-account``, or before versioned
terms) are not asked by the web client; ``accepted_version`` is null for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Where the shipped texts live.
SHIPPED = Path(__file__).resolve().parent.parent / "legal"
#: Largest text file read.
MAX_BYTES = 256 * 1024


class TermsError(Exception):
    """The terms files cannot be read (missing, too large, not UTF-8)."""


@dataclass(frozen=True)
class Terms:
    version: str
    terms: str
    privacy: str


def load_terms(version: str, directory: Path | None = None) -> Terms:
    """Read the texts of ``version`` from ``directory`` (default: the shipped ones).

    Raises:
        TermsError: a file is missing, larger than MAX_BYTES or not UTF-8.
    """
    where = directory or SHIPPED
    return Terms(version, _read(where / "terms.md"), _read(where / "privacy.md"))


def _read(path: Path) -> str:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise TermsError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_BYTES:
        raise TermsError(f"{path} is larger than {MAX_BYTES} bytes")
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise TermsError(f"{path} is not UTF-8 text") from None
