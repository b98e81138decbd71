"""Evidence (photos, videos) attached to a rejection, an escalation, an arbitration or a message,
and the standard rejection reasons, some of which stand only with evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_EVIDENCE = 9
MAX_EVIDENCE_URL_LENGTH = 2000

EVIDENCE_REQUIRED = "evidence_required"


@dataclass(frozen=True)
class RejectReason:
    code: str
    title: str
    needs_evidence: bool


# The standard codes (DOMAIN.md, "Rejection reasons"). A claim about the goods themselves
# needs a photo before it stands; a fact the service or the order already shows does not.
REJECT_REASONS: tuple[RejectReason, ...] = (
    RejectReason("used", "The goods were used", needs_evidence=True),
    RejectReason("damaged_by_buyer", "The goods were damaged after delivery", needs_evidence=True),
    RejectReason("parts_missing", "Parts, accessories or gifts are missing", needs_evidence=True),
    RejectReason("tags_removed", "Tags or seals were removed", needs_evidence=True),
    RejectReason("not_the_goods_sold", "What came back is not what was sold", needs_evidence=True),
    RejectReason("no_defect_found", "The claimed defect was not found", needs_evidence=True),
    RejectReason("outside_window", "Applied for after the return window", needs_evidence=False),
    RejectReason(
        "excluded_category",
        "The category cannot be returned without a defect",
        needs_evidence=False,
    ),
    RejectReason("duplicate_request", "Another return covers these goods", needs_evidence=False),
    RejectReason("agreed_with_buyer", "Settled with the buyer another way", needs_evidence=False),
)
_BY_CODE = {reason.code: reason for reason in REJECT_REASONS}


def reject_reason(code: str) -> RejectReason | None:
    """The standard reason of this code; None for a shop's own code (still allowed)."""
    return _BY_CODE.get(code)


def needs_evidence(code: str, evidence: Sequence[str]) -> bool:
    """Whether a rejection with this code and this evidence is refused for lack of evidence."""
    reason = _BY_CODE.get(code)
    return reason is not None and reason.needs_evidence and not evidence


def is_evidence_url(url: str) -> bool:
    """An absolute https URL with a host, of sane length, with no space or control character.

    Evidence is shown to the other party and to platform staff: a `javascript:` or `http:`
    link, or one hiding characters, must never reach them.
    """
    if not url or len(url) > MAX_EVIDENCE_URL_LENGTH:
        return False
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number in range
    except ValueError:
        return False
    del port
    return parts.scheme == "https" and bool(parts.hostname) and "\\" not in url


def evidence_problems(urls: Sequence[str]) -> tuple[str, ...]:
    """Every reason this list of evidence is refused: too many, or a URL that is not https."""
    problems: list[str] = []
    if len(urls) > MAX_EVIDENCE:
        problems.append(f"at most {MAX_EVIDENCE} pieces of evidence, not {len(urls)}")
    problems.extend(
        f"evidence {index} is not an https URL"
        for index, url in enumerate(urls)
        if not is_evidence_url(url)
    )
    return tuple(problems)
