"""Which way a model travels, said so that the spec, and every client generated from it, agrees.

A model is either received (a request body or part of one: `<Thing>In`, `<Action>Body`) or
sent (a response or part of one: `<Thing>Out`, `<Thing>Page`). When the two directions would
differ, because a request may leave a field out (it has a default) or a response carries a
field a request never sets (`version`), they are two models with those two names, never one
model that FastAPI splits into generated `-Input`/`-Output` schemas (names that change when
the model changes). tests/api/test_request_and_response_schemas.py holds every schema of the
spec to this.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ResponseShape(BaseModel):
    """A model the service sends.

    FastAPI serialises a response model whole, so a field with a default is sent like any
    other; the spec lists it as required, and a client types it as always there.
    """

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)
