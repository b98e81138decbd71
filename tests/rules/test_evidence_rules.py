"""Evidence is at most 9 https URLs; the standard rejection codes say which need it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returns_service.rules.evidence import (
    MAX_EVIDENCE,
    REJECT_REASONS,
    RejectReason,
    evidence_problems,
    is_evidence_url,
    needs_evidence,
    reject_reason,
)

PHOTO = "https://img.example.com/p/1.jpg"


@pytest.mark.parametrize(
    "url",
    [
        "http://img.example.com/1.jpg",
        "javascript:alert(1)",
        "https://",
        "https:///path",
        "ftp://example.com/a",
        "//example.com/a.jpg",
        "https://exa mple.com/a.jpg",
        "https://example.com/a\n.jpg",
        "https://example.com:99999/a.jpg",
        "https://example.com\\@evil.com/",
        "data:image/png;base64,AAAA",
        "",
        "https://example.com/" + "a" * 2000,
    ],
)
def test_anything_but_a_plain_https_url_is_no_evidence(url: str) -> None:
    assert not is_evidence_url(url)


@given(
    host=st.from_regex(r"[a-z0-9]{1,20}(\.[a-z0-9]{1,10}){1,3}", fullmatch=True),
    path=st.from_regex(r"(/[A-Za-z0-9._~-]{0,20}){0,4}", fullmatch=True),
)
def test_https_urls_with_a_host_are_evidence(host: str, path: str) -> None:
    assert is_evidence_url(f"https://{host}{path}")


@given(text=st.text(max_size=60))
def test_no_text_without_the_https_scheme_is_evidence(text: str) -> None:
    if not text.startswith("https://"):
        assert not is_evidence_url(text)


@given(count=st.integers(min_value=0, max_value=30))
def test_at_most_nine_pieces_of_evidence(count: int) -> None:
    problems = evidence_problems([PHOTO] * count)
    assert (problems == ()) == (count <= MAX_EVIDENCE)


def test_every_bad_url_is_named_by_its_place() -> None:
    assert evidence_problems([PHOTO, "http://x.example/1", PHOTO, "nope"]) == (
        "evidence 1 is not an https URL",
        "evidence 3 is not an https URL",
    )


def test_the_standard_codes_are_unique_and_some_need_evidence() -> None:
    codes = [reason.code for reason in REJECT_REASONS]
    assert len(codes) == len(set(codes))
    assert any(r.needs_evidence for r in REJECT_REASONS)
    assert any(not r.needs_evidence for r in REJECT_REASONS)


@pytest.mark.parametrize("reason", REJECT_REASONS, ids=lambda r: r.code)
def test_a_standard_code_needing_evidence_needs_at_least_one_piece(reason: RejectReason) -> None:
    assert reject_reason(reason.code) is reason
    assert needs_evidence(reason.code, []) is reason.needs_evidence
    assert needs_evidence(reason.code, [PHOTO]) is False


@given(code=st.text(min_size=1, max_size=64))
def test_a_shops_own_code_never_needs_evidence(code: str) -> None:
    if reject_reason(code) is None:
        assert needs_evidence(code, []) is False
