"""Query parameters of SCIM list requests (RFC 7644 §3.4.2), and response shaping.

Paging is lenient, as RFC 7644 §3.4.2.4 asks: a startIndex below 1 reads as 1, a negative
count as 0, a count above MAX_RESULTS as MAX_RESULTS. A startIndex past the last result
(however large) answers an empty page with the true totalResults; the offset handed to the
database is capped at MAX_OFFSET so it fits a 64-bit SQL integer on every backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query
from scim2_models import (
    Context,
    ListResponse,
    Resource,
    ResponseParameters,
    ScimFilter,
    SearchRequest,
)
from scim2_models.path import AttrPath, FilterNode

from rosterd.api.scim.errors import ScimResponse, reading_request
from rosterd.api.scim.policy import REQUEST_POLICY
from rosterd.services.errors import Invalid

MAX_RESULTS = 1000
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
MAX_FILTER_LENGTH = 4096
# Largest OFFSET bound into SQL: a signed 64-bit integer (SQLite, PostgreSQL bigint).
MAX_OFFSET = 2**63 - 1


@dataclass(frozen=True)
class ListParams:
    filter_tree: FilterNode | None
    start_index: int
    count: int
    sort_by: AttrPath | None
    descending: bool
    response: ResponseParameters[Any] | None

    @property
    def offset(self) -> int:
        return min(self.start_index - 1, MAX_OFFSET)


def _attr_list(value: str | None, name: str) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if len(items) > 100 or any(len(v) > 200 for v in items):
        raise Invalid(f"{name} is too long", code="invalidValue")
    return items or None


def response_parameters(
    attributes: str | None, excluded: str | None
) -> ResponseParameters[Any] | None:
    attrs = _attr_list(attributes, "attributes")
    excl = _attr_list(excluded, "excludedAttributes")
    if attrs is None and excl is None:
        return None
    with reading_request(REQUEST_POLICY):
        return ResponseParameters.model_validate({"attributes": attrs, "excludedAttributes": excl})


def parse_filter(text: str | None) -> FilterNode | None:
    if text is None or not text.strip():
        return None
    if len(text) > MAX_FILTER_LENGTH:
        raise Invalid(f"filter longer than {MAX_FILTER_LENGTH} characters", code="invalidFilter")
    return ScimFilter(text).ast


def parse_sort(sort_by: str | None, sort_order: str | None) -> tuple[AttrPath | None, bool]:
    if sort_order is not None and sort_order.lower() not in ("ascending", "descending"):
        raise Invalid("sortOrder must be ascending or descending", code="invalidValue")
    if sort_by is None or not sort_by.strip():
        return None, sort_order is not None and sort_order.lower() == "descending"
    uri, _, rest = sort_by.strip().rpartition(":")
    attr, _, sub = rest.partition(".")
    try:
        path = AttrPath(attr=attr, sub_attr=sub or None, uri=uri or None)
    except ValueError as exc:
        raise Invalid(f"sortBy {sort_by!r} is not an attribute path", code="invalidValue") from exc
    return path, sort_order is not None and sort_order.lower() == "descending"


def resource_params(
    attributes: Annotated[str | None, Query(max_length=4000)] = None,
    excluded_attributes: Annotated[
        str | None, Query(alias="excludedAttributes", max_length=4000)
    ] = None,
) -> ResponseParameters[Any] | None:
    return response_parameters(attributes, excluded_attributes)


def list_params(
    filter_: Annotated[
        str | None, Query(alias="filter", description="RFC 7644 §3.4.2.2 filter.")
    ] = None,
    start_index: Annotated[
        int,
        Query(
            alias="startIndex",
            description="1-based; below 1 reads as 1; past the last result, an empty page.",
        ),
    ] = 1,
    count: Annotated[
        int | None, Query(description=f"Page size; negative reads as 0; at most {MAX_RESULTS}.")
    ] = None,
    sort_by: Annotated[str | None, Query(alias="sortBy", max_length=300)] = None,
    sort_order: Annotated[str | None, Query(alias="sortOrder", max_length=20)] = None,
    attributes: Annotated[str | None, Query(max_length=4000)] = None,
    excluded_attributes: Annotated[
        str | None, Query(alias="excludedAttributes", max_length=4000)
    ] = None,
) -> ListParams:
    sort_path, descending = parse_sort(sort_by, sort_order)
    return build_list_params(
        filter_text=filter_,
        start_index=start_index,
        count=count,
        sort_path=sort_path,
        descending=descending,
        response=response_parameters(attributes, excluded_attributes),
    )


def build_list_params(
    *,
    filter_text: str | None,
    start_index: int | None,
    count: int | None,
    sort_path: AttrPath | None,
    descending: bool,
    response: ResponseParameters[Any] | None,
) -> ListParams:
    return ListParams(
        filter_tree=parse_filter(filter_text),
        start_index=max(1, start_index or 1),
        count=MAX_RESULTS if count is None else min(max(0, count), MAX_RESULTS),
        sort_by=sort_path,
        descending=descending,
        response=response,
    )


def excluded(params: ResponseParameters[Any] | None, attribute: str) -> bool:
    """Whether the caller asked not to get ``attribute`` (so it need not be loaded)."""
    if params is None:
        return False
    wanted = [a.lower() for a in params.attributes or []]
    if wanted and not any(a == attribute or a.startswith(attribute + ".") for a in wanted):
        return True
    return attribute in [a.lower() for a in params.excluded_attributes or []]


def resource_response(
    document: dict[str, Any],
    model: type[Resource[Any]],
    *,
    status: int = 200,
    response: ResponseParameters[Any] | None = None,
    context: Context = Context.RESOURCE_QUERY_RESPONSE,
) -> ScimResponse:
    """A resource's response, with its ETag (and its Location when it was created). Sent as
    rendered unless the client chose attributes: those are picked by scim2-models."""
    body = document
    if response is not None:
        body = model.model_validate(document).model_dump(
            scim_ctx=context, response_parameters=response
        )
    meta = document["meta"]
    headers = {"ETag": meta["version"]}
    if status == 201:
        headers["Location"] = meta["location"]
    return ScimResponse(body, status_code=status, headers=headers)


def list_response(
    documents: list[dict[str, Any]],
    page: type[ListResponse[Any]],
    params: ListParams,
    total: int,
) -> ScimResponse:
    """A page of resources (RFC 7644 §3.4.2), as ``resource_response`` sends one."""
    if params.response is not None:
        listed = page.model_validate(
            {
                "totalResults": total,
                "startIndex": params.start_index,
                "itemsPerPage": len(documents),
                "Resources": documents,
            }
        )
        return ScimResponse(
            listed.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=params.response)
        )
    return ScimResponse(
        {
            "schemas": [LIST_RESPONSE],
            "totalResults": total,
            "startIndex": params.start_index,
            "itemsPerPage": len(documents),
            "Resources": documents,
        }
    )


def search_params(payload: dict[str, Any]) -> ListParams:
    """The ListParams of a POST /.search body (RFC 7644 §3.4.3)."""
    with reading_request(REQUEST_POLICY):
        search: SearchRequest[Any] = SearchRequest.model_validate(
            payload, scim_ctx=Context.SEARCH_REQUEST
        )
    sort_path, descending = parse_sort(
        str(search.sort_by) if search.sort_by else None,
        search.sort_order.value if search.sort_order else None,
    )
    return build_list_params(
        filter_text=str(search.filter) if search.filter else None,
        start_index=search.start_index,
        count=search.count,
        sort_path=sort_path,
        descending=descending,
        response=search if (search.attributes or search.excluded_attributes) else None,
    )
