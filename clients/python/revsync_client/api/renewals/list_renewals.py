from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.renewals_out import RenewalsOut
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    within: str | Unset = "90d",
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["within"] = within

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/renewals",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | RenewalsOut | None:
    if response.status_code == 200:
        response_200 = RenewalsOut.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Error.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Error.from_dict(response.json())

        return response_403

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
) -> Response[Error | RenewalsOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    within: str | Unset = "90d",
) -> Response[Error | RenewalsOut]:
    """The subscriptions renewing within a number of days, each assessed

    Args:
        within (str | Unset): Days ahead: `90d` or `90` (0 to 730). Default: '90d'.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | RenewalsOut]
    """

    kwargs = _get_kwargs(
        within=within,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    within: str | Unset = "90d",
) -> Error | RenewalsOut | None:
    """The subscriptions renewing within a number of days, each assessed

    Args:
        within (str | Unset): Days ahead: `90d` or `90` (0 to 730). Default: '90d'.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | RenewalsOut
    """

    return sync_detailed(
        client=client,
        within=within,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    within: str | Unset = "90d",
) -> Response[Error | RenewalsOut]:
    """The subscriptions renewing within a number of days, each assessed

    Args:
        within (str | Unset): Days ahead: `90d` or `90` (0 to 730). Default: '90d'.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | RenewalsOut]
    """

    kwargs = _get_kwargs(
        within=within,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    within: str | Unset = "90d",
) -> Error | RenewalsOut | None:
    """The subscriptions renewing within a number of days, each assessed

    Args:
        within (str | Unset): Days ahead: `90d` or `90` (0 to 730). Default: '90d'.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | RenewalsOut
    """

    return (
        await asyncio_detailed(
            client=client,
            within=within,
        )
    ).parsed
