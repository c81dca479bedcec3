"""Customers and the identity map: ``/v1/customers``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from revsync.application.customers import PutCustomer
from revsync.bootstrap import Container
from revsync.domain.identity import Customer, ExternalRef, System
from revsync.entrypoints.api.access import Key, check_reach, reach_of
from revsync.entrypoints.api.contract import CustomerId, answers

router = APIRouter(tags=["customers"])


class ExternalRefs(BaseModel):
    """A customer's references in outside systems."""

    model_config = ConfigDict(extra="forbid")

    product: list[str] = Field(
        default_factory=list, description="Product tenant ids (event `subject`)."
    )
    crm: str | None = Field(default=None, description="CRM account id.")
    erp: str | None = Field(default=None, description="ERP customer id.")
    support: str | None = Field(default=None, description="Support tool organization id.")


class CustomerIn(BaseModel):
    """A customer as written with PUT."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Acme",
                    "currency": "EUR",
                    "timezone": "Europe/Paris",
                    "external_refs": {"product": ["tenant-1"], "crm": "001A000001"},
                }
            ]
        },
    )

    name: str = Field(max_length=255)
    currency: str = Field(max_length=16, description="ISO 4217 code, e.g. EUR.")
    timezone: str = Field(default="UTC", max_length=64, description="IANA zone, e.g. Europe/Paris.")
    country: str | None = Field(
        default=None, max_length=16, description="ISO 3166-1 alpha-2, for tax (e.g. FR)."
    )
    tax_exempt: bool = Field(default=False, description="No tax on this customer's invoices.")
    parent_id: str | None = Field(
        default=None, max_length=128, description="Parent customer in the account hierarchy."
    )
    external_refs: ExternalRefs = Field(default_factory=ExternalRefs)


class CustomerOut(CustomerIn):
    """A stored customer."""

    id: str


class CustomerPutOut(CustomerOut):
    """A stored customer and the unmapped events it took over."""

    attached_unmapped_events: int


class CustomerPage(BaseModel):
    """A page of customers."""

    items: list[CustomerOut]
    next_cursor: str | None


def customer_out(customer: Customer) -> CustomerOut:
    """The wire form of a customer."""
    crm = customer.refs_in(System.CRM)
    erp = customer.refs_in(System.ERP)
    support = customer.refs_in(System.SUPPORT)
    return CustomerOut(
        id=customer.id,
        name=customer.name,
        currency=customer.currency,
        timezone=customer.timezone,
        parent_id=customer.parent_id,
        country=customer.country,
        tax_exempt=customer.tax_exempt,
        external_refs=ExternalRefs(
            product=list(customer.refs_in(System.PRODUCT)),
            crm=crm[0] if crm else None,
            erp=erp[0] if erp else None,
            support=support[0] if support else None,
        ),
    )


@router.put(
    "/v1/customers/{customer_id}",
    response_model=CustomerPutOut,
    summary="Create or replace a customer",
    response_description="Replaced.",
    responses={
        201: {"model": CustomerPutOut, "description": "Created."},
        **answers({409: "A reference is held by another customer; nothing changed."}),
    },
)
def put_customer(
    customer_id: CustomerId,
    body: CustomerIn,
    request: Request,
    response: Response,
    key: Key,
) -> CustomerPutOut:
    """Mapping a tenant that belongs to another customer is refused with 409."""
    container: Container = request.app.state.container
    refs = body.external_refs
    outcome = container.customers.put(
        PutCustomer(
            customer_id=customer_id,
            name=body.name,
            currency=body.currency,
            timezone=body.timezone,
            parent_id=body.parent_id,
            country=body.country,
            tax_exempt=body.tax_exempt,
            refs={
                System.PRODUCT: refs.product,
                System.CRM: [] if refs.crm is None else [refs.crm],
                System.ERP: [] if refs.erp is None else [refs.erp],
                System.SUPPORT: [] if refs.support is None else [refs.support],
            },
            actor=request.state.actor,
        )
    )
    response.status_code = 201 if outcome.created else 200
    return CustomerPutOut(
        **customer_out(outcome.customer).model_dump(),
        attached_unmapped_events=outcome.attached_events,
    )


@router.get("/v1/customers/{customer_id}", response_model=CustomerOut, summary="Get a customer")
def get_customer(customer_id: CustomerId, request: Request, key: Key) -> CustomerOut:
    container: Container = request.app.state.container
    check_reach(request, customer_id, "customer", customer_id)
    return customer_out(container.customers.get(customer_id))


@router.get("/v1/customers", response_model=CustomerPage, summary="List or look up customers")
def list_customers(
    request: Request,
    key: Key,
    external_ref: Annotated[
        str | None,
        Query(description="Find the customer holding 'system:value', e.g. product:tenant-1."),
    ] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CustomerPage:
    container: Container = request.app.state.container
    reach = reach_of(request)
    if external_ref is not None:
        found = container.customers.find_by_ref(ExternalRef.parse(external_ref))
        if found is not None and reach is not None and found.id not in reach:
            found = None
        return CustomerPage(items=[] if found is None else [customer_out(found)], next_cursor=None)
    if reach is None:
        customers = container.customers.page(after=cursor, limit=limit)
        next_cursor = customers[-1].id if len(customers) == limit else None
    else:  # a key limited to some customers pages through those only, read at once
        ids = sorted(i for i in reach if cursor is None or i > cursor)[:limit]
        customers = container.customers.many(ids)
        next_cursor = ids[-1] if len(ids) == limit else None
    return CustomerPage(items=[customer_out(c) for c in customers], next_cursor=next_cursor)
