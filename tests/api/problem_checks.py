"""What every error answer and every answer carrying a return must look like."""

from __future__ import annotations

from typing import Any

from httpx import Response

from tests.api.scenario import PROBLEM


def assert_problem(response: Response, status: int, code: str) -> dict[str, Any]:
    """The answer is an RFC 9457 problem with this status and code; its body is returned."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail", "code"} <= body.keys(), body
    assert body["status"] == status
    assert body["code"] == code, body
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def rules_of(problem: dict[str, Any]) -> list[str]:
    """The rule names of a rule_violation problem, in the order given."""
    return [violation["rule"] for violation in problem["violations"]]


def assert_return(response: Response, status: int, version: int) -> dict[str, Any]:
    """A return answer in the given HTTP status, at this version, with the matching ETag."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["version"] == version, body
    assert response.headers["ETag"] == f'"{version}"'
    return body
