from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.rerate_in import RerateIn
from ...models.rerate_out import RerateOut
from ...types import Response


def _get_kwargs(
    *,
    body: RerateIn,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/rerates",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | RerateOut | None:
    if response.status_code == 200:
        response_200 = RerateOut.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Error.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Error.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Error.from_dict(response.json())

        return response_403

    if response.status_code == 413:
        response_413 = Error.from_dict(response.json())

        return response_413

    if response.status_code == 422:
        response_422 = Error.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = Error.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = Error.from_dict(response.json())

        return response_500

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | RerateOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: RerateIn,
) -> Response[Error | RerateOut]:
    """Shadow re-rate: a plan over periods already billed, beside what was issued

     Rate the periods billed in a range again on a candidate plan and compare them with the
    invoices issued, per customer and line, before tax. Nothing is written.

    Args:
        body (RerateIn): What to re-rate (docs/billing.md, "Shadow re-rating").

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | RerateOut]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: RerateIn,
) -> Error | RerateOut | None:
    """Shadow re-rate: a plan over periods already billed, beside what was issued

     Rate the periods billed in a range again on a candidate plan and compare them with the
    invoices issued, per customer and line, before tax. Nothing is written.

    Args:
        body (RerateIn): What to re-rate (docs/billing.md, "Shadow re-rating").

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | RerateOut
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: RerateIn,
) -> Response[Error | RerateOut]:
    """Shadow re-rate: a plan over periods already billed, beside what was issued

     Rate the periods billed in a range again on a candidate plan and compare them with the
    invoices issued, per customer and line, before tax. Nothing is written.

    Args:
        body (RerateIn): What to re-rate (docs/billing.md, "Shadow re-rating").

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | RerateOut]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: RerateIn,
) -> Error | RerateOut | None:
    """Shadow re-rate: a plan over periods already billed, beside what was issued

     Rate the periods billed in a range again on a candidate plan and compare them with the
    invoices issued, per customer and line, before tax. Nothing is written.

    Args:
        body (RerateIn): What to re-rate (docs/billing.md, "Shadow re-rating").

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | RerateOut
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
