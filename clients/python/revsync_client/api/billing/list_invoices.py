import datetime
from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.invoice_kind import InvoiceKind
from ...models.invoice_page import InvoicePage
from ...models.invoice_status import InvoiceStatus
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    customer: None | str | Unset = UNSET,
    status: InvoiceStatus | None | Unset = UNSET,
    period: datetime.date | None | Unset = UNSET,
    subscription: None | str | Unset = UNSET,
    kind: InvoiceKind | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_customer: None | str | Unset
    if isinstance(customer, Unset):
        json_customer = UNSET
    else:
        json_customer = customer
    params["customer"] = json_customer

    json_status: None | str | Unset
    if isinstance(status, Unset):
        json_status = UNSET
    elif isinstance(status, InvoiceStatus):
        json_status = status.value
    else:
        json_status = status
    params["status"] = json_status

    json_period: None | str | Unset
    if isinstance(period, Unset):
        json_period = UNSET
    elif isinstance(period, datetime.date):
        json_period = period.isoformat()
    else:
        json_period = period
    params["period"] = json_period

    json_subscription: None | str | Unset
    if isinstance(subscription, Unset):
        json_subscription = UNSET
    else:
        json_subscription = subscription
    params["subscription"] = json_subscription

    json_kind: None | str | Unset
    if isinstance(kind, Unset):
        json_kind = UNSET
    elif isinstance(kind, InvoiceKind):
        json_kind = kind.value
    else:
        json_kind = kind
    params["kind"] = json_kind

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/invoices",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | InvoicePage | None:
    if response.status_code == 200:
        response_200 = InvoicePage.from_dict(response.json())

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
) -> Response[Error | InvoicePage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    customer: None | str | Unset = UNSET,
    status: InvoiceStatus | None | Unset = UNSET,
    period: datetime.date | None | Unset = UNSET,
    subscription: None | str | Unset = UNSET,
    kind: InvoiceKind | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> Response[Error | InvoicePage]:
    """List invoices

    Args:
        customer (None | str | Unset):
        status (InvoiceStatus | None | Unset):
        period (datetime.date | None | Unset): Period start date.
        subscription (None | str | Unset):
        kind (InvoiceKind | None | Unset):
        cursor (None | str | Unset):
        limit (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | InvoicePage]
    """

    kwargs = _get_kwargs(
        customer=customer,
        status=status,
        period=period,
        subscription=subscription,
        kind=kind,
        cursor=cursor,
        limit=limit,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    customer: None | str | Unset = UNSET,
    status: InvoiceStatus | None | Unset = UNSET,
    period: datetime.date | None | Unset = UNSET,
    subscription: None | str | Unset = UNSET,
    kind: InvoiceKind | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> Error | InvoicePage | None:
    """List invoices

    Args:
        customer (None | str | Unset):
        status (InvoiceStatus | None | Unset):
        period (datetime.date | None | Unset): Period start date.
        subscription (None | str | Unset):
        kind (InvoiceKind | None | Unset):
        cursor (None | str | Unset):
        limit (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | InvoicePage
    """

    return sync_detailed(
        client=client,
        customer=customer,
        status=status,
        period=period,
        subscription=subscription,
        kind=kind,
        cursor=cursor,
        limit=limit,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    customer: None | str | Unset = UNSET,
    status: InvoiceStatus | None | Unset = UNSET,
    period: datetime.date | None | Unset = UNSET,
    subscription: None | str | Unset = UNSET,
    kind: InvoiceKind | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> Response[Error | InvoicePage]:
    """List invoices

    Args:
        customer (None | str | Unset):
        status (InvoiceStatus | None | Unset):
        period (datetime.date | None | Unset): Period start date.
        subscription (None | str | Unset):
        kind (InvoiceKind | None | Unset):
        cursor (None | str | Unset):
        limit (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | InvoicePage]
    """

    kwargs = _get_kwargs(
        customer=customer,
        status=status,
        period=period,
        subscription=subscription,
        kind=kind,
        cursor=cursor,
        limit=limit,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    customer: None | str | Unset = UNSET,
    status: InvoiceStatus | None | Unset = UNSET,
    period: datetime.date | None | Unset = UNSET,
    subscription: None | str | Unset = UNSET,
    kind: InvoiceKind | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> Error | InvoicePage | None:
    """List invoices

    Args:
        customer (None | str | Unset):
        status (InvoiceStatus | None | Unset):
        period (datetime.date | None | Unset): Period start date.
        subscription (None | str | Unset):
        kind (InvoiceKind | None | Unset):
        cursor (None | str | Unset):
        limit (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | InvoicePage
    """

    return (
        await asyncio_detailed(
            client=client,
            customer=customer,
            status=status,
            period=period,
            subscription=subscription,
            kind=kind,
            cursor=cursor,
            limit=limit,
        )
    ).parsed
