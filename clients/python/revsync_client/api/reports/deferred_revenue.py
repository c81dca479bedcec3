import datetime
from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.deferred_revenue_out import DeferredRevenueOut
from ...models.error import Error
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    as_of: datetime.date | None | Unset = UNSET,
    customer: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_as_of: None | str | Unset
    if isinstance(as_of, Unset):
        json_as_of = UNSET
    elif isinstance(as_of, datetime.date):
        json_as_of = as_of.isoformat()
    else:
        json_as_of = as_of
    params["as_of"] = json_as_of

    json_customer: None | str | Unset
    if isinstance(customer, Unset):
        json_customer = UNSET
    else:
        json_customer = customer
    params["customer"] = json_customer

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/reports/deferred-revenue",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> DeferredRevenueOut | Error | None:
    if response.status_code == 200:
        response_200 = DeferredRevenueOut.from_dict(response.json())

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
) -> Response[DeferredRevenueOut | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    as_of: datetime.date | None | Unset = UNSET,
    customer: None | str | Unset = UNSET,
) -> Response[DeferredRevenueOut | Error]:
    """Revenue billed in advance and not yet recognised, with its schedule per customer

    Args:
        as_of (datetime.date | None | Unset): Default: today (UTC).
        customer (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeferredRevenueOut | Error]
    """

    kwargs = _get_kwargs(
        as_of=as_of,
        customer=customer,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    as_of: datetime.date | None | Unset = UNSET,
    customer: None | str | Unset = UNSET,
) -> DeferredRevenueOut | Error | None:
    """Revenue billed in advance and not yet recognised, with its schedule per customer

    Args:
        as_of (datetime.date | None | Unset): Default: today (UTC).
        customer (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeferredRevenueOut | Error
    """

    return sync_detailed(
        client=client,
        as_of=as_of,
        customer=customer,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    as_of: datetime.date | None | Unset = UNSET,
    customer: None | str | Unset = UNSET,
) -> Response[DeferredRevenueOut | Error]:
    """Revenue billed in advance and not yet recognised, with its schedule per customer

    Args:
        as_of (datetime.date | None | Unset): Default: today (UTC).
        customer (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeferredRevenueOut | Error]
    """

    kwargs = _get_kwargs(
        as_of=as_of,
        customer=customer,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    as_of: datetime.date | None | Unset = UNSET,
    customer: None | str | Unset = UNSET,
) -> DeferredRevenueOut | Error | None:
    """Revenue billed in advance and not yet recognised, with its schedule per customer

    Args:
        as_of (datetime.date | None | Unset): Default: today (UTC).
        customer (None | str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeferredRevenueOut | Error
    """

    return (
        await asyncio_detailed(
            client=client,
            as_of=as_of,
            customer=customer,
        )
    ).parsed
