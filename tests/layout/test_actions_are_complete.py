"""Every action of the state table comes with what it needs: a row, an event type, a route
with an operationId in the committed spec, and a route that is two lines.

Adding an action (AGENTS.md, "Adding an action") means touching each of these; this test
names whichever was forgotten.
"""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from returns_service.outbox.events import EVENT_TYPES
from returns_service.returns import endpoints
from returns_service.rules.transitions import TRANSITIONS
from returns_service.rules.vocabulary import Action, EventType, Role

SPEC = Path(__file__).parents[2] / "openapi" / "openapi.json"
ACTION_PATH = "/v1/returns/{return_id}/"


def _people_take(action: Action) -> bool:
    """Whether anyone but the system takes the action: only those have a route."""
    return any(row.roles - {Role.SYSTEM} for row in TRANSITIONS if row.action is action)


def _action_routes() -> dict[str, APIRoute]:
    return {
        route.path.removeprefix(ACTION_PATH): route
        for route in endpoints.router.routes
        if isinstance(route, APIRoute) and route.path.startswith(ACTION_PATH)
    }


@pytest.mark.parametrize("action", list(Action))
def test_every_action_has_a_row_and_each_row_an_event_type(action: Action) -> None:
    rows = [row for row in TRANSITIONS if row.action is action]
    assert rows, f"{action.value} has no row in rules/transitions.py"
    for row in rows:
        assert isinstance(row.event, EventType), f"{row} names no event type"
        assert row.event.value in EVENT_TYPES


@pytest.mark.parametrize("action", [action for action in Action if _people_take(action)])
def test_every_action_people_take_has_a_route_and_an_operation_id(action: Action) -> None:
    route = _action_routes().get(action.value)
    assert route is not None, f"no route POST {ACTION_PATH}{action.value}"
    assert route.methods == {"POST"}
    assert route.operation_id, f"the {action.value} route has no operation_id"
    operation = json.loads(SPEC.read_text())["paths"][ACTION_PATH + action.value]["post"]
    assert operation["operationId"] == route.operation_id, "run `make openapi`"


def test_the_system_only_actions_have_no_route() -> None:
    system_only = {action.value for action in Action if not _people_take(action)}
    assert system_only == {"close"}
    assert not system_only & set(_action_routes())


def test_every_returns_route_is_two_lines() -> None:
    """Call one named use case, answer: nothing between the route and the use case."""
    long_routes = []
    for route in _action_routes().values():
        source = textwrap.dedent(inspect.getsource(route.endpoint))
        function = ast.parse(source).body[0]
        assert isinstance(function, ast.AsyncFunctionDef)
        body = [
            statement
            for statement in function.body
            if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))
        ]
        if len(body) > 2:
            long_routes.append(function.name)
    assert long_routes == []
