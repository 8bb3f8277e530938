"""OpenAPI 3.1 description of the HTTP API, generated from the route table and its pydantic models."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

import ctibridge

if TYPE_CHECKING:  # routes.py serves this description
    from ctibridge.web.routes import Route

REF_TEMPLATE = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"\{(\w+)\}")


def openapi(routes: Iterable[Route]) -> dict[str, Any]:
    routes = tuple(routes)
    models: set[type[BaseModel]] = set()
    for route in routes:
        models |= {m for m in route.responses.values() if isinstance(m, type)}
        if route.body is not None:
            models.add(route.body)
    ordered = sorted(models, key=lambda m: m.__name__)
    refs, schemas = models_json_schema(
        [(m, "validation" if any(r.body is m for r in routes) else "serialization") for m in ordered],
        ref_template=REF_TEMPLATE)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "operationId": route.handler.__name__,
            "summary": route.summary,
            "responses": {str(status): _response(status, body, refs)
                          for status, body in route.responses.items()},
        }
        parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                      for name in _PATH_PARAM.findall(route.path)]
        if parameters:
            operation["parameters"] = parameters
        if route.body is not None:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": refs[(route.body, "validation")]}}}
        if route.authenticated:
            operation["security"] = [{"agentToken": []}]
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "ctibridge", "version": ctibridge.__version__},
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {"agentToken": {
                "type": "http", "scheme": "bearer",
                "description": "agent token from `ctibridge token` (HMAC-signed, expiring, DN-scoped)"}},
        },
    }


def _response(status: int, body: type[BaseModel] | str, refs: dict[Any, Any]) -> dict[str, Any]:
    if status == 101:
        return {"description": "Switching Protocols (WebSocket)"}
    if isinstance(body, str):
        return {"description": body, "content": {body: {}}}
    schema = refs.get((body, "serialization")) or refs[(body, "validation")]
    return {"description": body.__doc__.strip().splitlines()[0] if body.__doc__ else body.__name__,
            "content": {"application/json": {"schema": schema}}}
