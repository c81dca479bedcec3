import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.usage_out import UsageOut
from ...models.window import Window
from ...types import UNSET, Response, Unset


def _get_kwargs(
    customer_id: str,
    *,
    meter: str,
    from_: datetime.datetime | None | Unset = UNSET,
    to: datetime.datetime | None | Unset = UNSET,
    window: None | Unset | Window = UNSET,
    group_by: None | str | Unset = UNSET,
    tz: None | str | Unset = UNSET,
    include_descendants: bool | Unset = False,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["meter"] = meter

    json_from_: None | str | Unset
    if isinstance(from_, Unset):
        json_from_ = UNSET
    elif isinstance(from_, datetime.datetime):
        json_from_ = from_.isoformat()
    else:
        json_from_ = from_
    params["from"] = json_from_

    json_to: None | str | Unset
    if isinstance(to, Unset):
        json_to = UNSET
    elif isinstance(to, datetime.datetime):
        json_to = to.isoformat()
    else:
        json_to = to
    params["to"] = json_to

    json_window: None | str | Unset
    if isinstance(window, Unset):
        json_window = UNSET
    elif isinstance(window, Window):
        json_window = window.value
    else:
        json_window = window
    params["window"] = json_window

    json_group_by: None | str | Unset
    if isinstance(group_by, Unset):
        json_group_by = UNSET
    else:
        json_group_by = group_by
    params["group_by"] = json_group_by

    json_tz: None | str | Unset
    if isinstance(tz, Unset):
        json_tz = UNSET
    else:
        json_tz = tz
    params["tz"] = json_tz

    params["include_descendants"] = include_descendants

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/customers/{customer_id}/usage".format(
            customer_id=quote(str(customer_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | UsageOut | None:
    if response.status_code == 200:
        response_200 = UsageOut.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Error.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Error.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Error.from_dict(response.json())

        return response_404

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
) -> Response[Error | UsageOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    customer_id: str,
    *,
    client: AuthenticatedClient | Client,
    meter: str,
    from_: datetime.datetime | None | Unset = UNSET,
    to: datetime.datetime | None | Unset = UNSET,
    window: None | Unset | Window = UNSET,
    group_by: None | str | Unset = UNSET,
    tz: None | str | Unset = UNSET,
    include_descendants: bool | Unset = False,
) -> Response[Error | UsageOut]:
    """Meter a customer's usage

     Exact aggregates; a query made after a 2xx ingestion response sees that event.

    Args:
        customer_id (str): The customer's id.
        meter (str): Key of a declared meter.
        from_ (datetime.datetime | None | Unset): Inclusive; default: start of this month.
        to (datetime.datetime | None | Unset): Exclusive; default: start of next month.
        window (None | Unset | Window): hour, day or month; omitted: one total.
        group_by (None | str | Unset): Comma-separated dimensions of the meter.
        tz (None | str | Unset): IANA zone for windows; default: the customer's.
        include_descendants (bool | Unset): Add the usage of child accounts. Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | UsageOut]
    """

    kwargs = _get_kwargs(
        customer_id=customer_id,
        meter=meter,
        from_=from_,
        to=to,
        window=window,
        group_by=group_by,
        tz=tz,
        include_descendants=include_descendants,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    customer_id: str,
    *,
    client: AuthenticatedClient | Client,
    meter: str,
    from_: datetime.datetime | None | Unset = UNSET,
    to: datetime.datetime | None | Unset = UNSET,
    window: None | Unset | Window = UNSET,
    group_by: None | str | Unset = UNSET,
    tz: None | str | Unset = UNSET,
    include_descendants: bool | Unset = False,
) -> Error | UsageOut | None:
    """Meter a customer's usage

     Exact aggregates; a query made after a 2xx ingestion response sees that event.

    Args:
        customer_id (str): The customer's id.
        meter (str): Key of a declared meter.
        from_ (datetime.datetime | None | Unset): Inclusive; default: start of this month.
        to (datetime.datetime | None | Unset): Exclusive; default: start of next month.
        window (None | Unset | Window): hour, day or month; omitted: one total.
        group_by (None | str | Unset): Comma-separated dimensions of the meter.
        tz (None | str | Unset): IANA zone for windows; default: the customer's.
        include_descendants (bool | Unset): Add the usage of child accounts. Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | UsageOut
    """

    return sync_detailed(
        customer_id=customer_id,
        client=client,
        meter=meter,
        from_=from_,
        to=to,
        window=window,
        group_by=group_by,
        tz=tz,
        include_descendants=include_descendants,
    ).parsed


async def asyncio_detailed(
    customer_id: str,
    *,
    client: AuthenticatedClient | Client,
    meter: str,
    from_: datetime.datetime | None | Unset = UNSET,
    to: datetime.datetime | None | Unset = UNSET,
    window: None | Unset | Window = UNSET,
    group_by: None | str | Unset = UNSET,
    tz: None | str | Unset = UNSET,
    include_descendants: bool | Unset = False,
) -> Response[Error | UsageOut]:
    """Meter a customer's usage

     Exact aggregates; a query made after a 2xx ingestion response sees that event.

    Args:
        customer_id (str): The customer's id.
        meter (str): Key of a declared meter.
        from_ (datetime.datetime | None | Unset): Inclusive; default: start of this month.
        to (datetime.datetime | None | Unset): Exclusive; default: start of next month.
        window (None | Unset | Window): hour, day or month; omitted: one total.
        group_by (None | str | Unset): Comma-separated dimensions of the meter.
        tz (None | str | Unset): IANA zone for windows; default: the customer's.
        include_descendants (bool | Unset): Add the usage of child accounts. Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | UsageOut]
    """

    kwargs = _get_kwargs(
        customer_id=customer_id,
        meter=meter,
        from_=from_,
        to=to,
        window=window,
        group_by=group_by,
        tz=tz,
        include_descendants=include_descendants,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    customer_id: str,
    *,
    client: AuthenticatedClient | Client,
    meter: str,
    from_: datetime.datetime | None | Unset = UNSET,
    to: datetime.datetime | None | Unset = UNSET,
    window: None | Unset | Window = UNSET,
    group_by: None | str | Unset = UNSET,
    tz: None | str | Unset = UNSET,
    include_descendants: bool | Unset = False,
) -> Error | UsageOut | None:
    """Meter a customer's usage

     Exact aggregates; a query made after a 2xx ingestion response sees that event.

    Args:
        customer_id (str): The customer's id.
        meter (str): Key of a declared meter.
        from_ (datetime.datetime | None | Unset): Inclusive; default: start of this month.
        to (datetime.datetime | None | Unset): Exclusive; default: start of next month.
        window (None | Unset | Window): hour, day or month; omitted: one total.
        group_by (None | str | Unset): Comma-separated dimensions of the meter.
        tz (None | str | Unset): IANA zone for windows; default: the customer's.
        include_descendants (bool | Unset): Add the usage of child accounts. Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | UsageOut
    """

    return (
        await asyncio_detailed(
            customer_id=customer_id,
            client=client,
            meter=meter,
            from_=from_,
            to=to,
            window=window,
            group_by=group_by,
            tz=tz,
            include_descendants=include_descendants,
        )
    ).parsed
