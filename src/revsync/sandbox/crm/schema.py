"""The sObjects the sandbox knows — Account, Contract, Opportunity, Task, and what an opportunity
sells: Product2, Pricebook2, PricebookEntry, OpportunityLineItem — their standard fields, the
custom (``__c``) fields declared on the sandbox, and the describe documents built from them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from revsync.sandbox.crm import ids

#: type names a custom field may be declared with, and the describe type each stands for
CUSTOM_TYPES = {
    "string": "string",
    "text": "string",
    "textarea": "textarea",
    "number": "double",
    "double": "double",
    "int": "int",
    "currency": "currency",
    "percent": "percent",
    "boolean": "boolean",
    "checkbox": "boolean",
    "date": "date",
    "datetime": "datetime",
    "picklist": "picklist",
    "url": "url",
    "email": "email",
    "phone": "phone",
}
_DEFAULT_LENGTHS = {"string": 255, "textarea": 32768, "picklist": 255, "url": 255, "email": 80}
_DEFAULT_LENGTHS |= {"phone": 40, "id": 18, "reference": 18}
#: describe types whose soap type is not xsd:string
_SOAP_TYPES = {"double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double"}
_SOAP_TYPES |= {"int": "xsd:int", "boolean": "xsd:boolean", "date": "xsd:date"}
_SOAP_TYPES |= {"datetime": "xsd:dateTime", "id": "tns:ID", "reference": "tns:ID"}


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One field of an sObject, with what describe says about it."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    defaulted: bool = False
    custom: bool = False
    external_id: bool = False
    unique: bool = False
    reference_to: tuple[str, ...] = ()
    relationship: str | None = None
    picklist: tuple[str, ...] = ()
    restricted: bool = False

    @property
    def required(self) -> bool:
        """Must be given on create."""
        return self.createable and not self.nillable and not self.defaulted

    def describe(self) -> dict[str, Any]:
        """This field's entry in a describe document."""
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "length": self.length,
            "createable": self.createable,
            "updateable": self.updateable,
            "nillable": self.nillable,
            "defaultedOnCreate": self.defaulted,
            "custom": self.custom,
            "externalId": self.external_id,
            "unique": self.unique,
            "idLookup": self.external_id or self.type == "id",
            "filterable": self.type != "textarea",
            "sortable": self.type != "textarea",
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship,
            "restrictedPicklist": self.restricted,
            "picklistValues": [
                {"active": True, "defaultValue": False, "label": v, "value": v}
                for v in self.picklist
            ],
        }


@dataclass(frozen=True, slots=True)
class CustomField:
    """A custom field declared on the sandbox: a type (see ``CUSTOM_TYPES``), whether it is
    an external id, and whether its values must be unique (case-insensitively)."""

    type: str = "string"
    external_id: bool = False
    unique: bool = False
    length: int | None = None
    label: str | None = None
    picklist: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type.lower() not in CUSTOM_TYPES:
            raise ValueError(
                f"unknown custom field type {self.type!r}; one of {sorted(CUSTOM_TYPES)}"
            )


#: the custom fields every sandbox has, those a revsync connector reads and writes
DEFAULT_CUSTOM_FIELDS: Mapping[str, Mapping[str, CustomField | str]] = {
    "Account": {
        "Revsync_Customer_Id__c": CustomField("string", external_id=True, unique=True),
        "Revsync_Adoption__c": "textarea",
        "Revsync_Billing_Status__c": "string",
        "Revsync_Last_Invoice_Amount__c": "currency",
        "Revsync_Overdue__c": "boolean",
        "Revsync_Health_Score__c": "number",
        "Revsync_Risk_Flags__c": "textarea",
        "Revsync_Renewal_Readiness__c": "string",
        "Revsync_Renewal_Assessment__c": "textarea",
        # the user id of the account's success manager (a lookup to User in Salesforce)
        "Success_Manager__c": "string",
    },
    "Contract": {
        "Plan__c": "string",
        "Seats__c": "number",
        "Renewal_Date__c": "date",
        "Amendment_Date__c": "date",
    },
    "Opportunity": {
        "Revsync_Key__c": CustomField("string", external_id=True, unique=True),
        # a won opportunity's subscription in revsync, and where it stands (quote-to-cash)
        "Revsync_Subscription_Id__c": "string",
        "Revsync_Subscription_Status__c": "string",
    },
    "Task": {"Revsync_Key__c": CustomField("string", external_id=True)},
}


@dataclass(frozen=True, slots=True)
class ObjectDef:
    """One sObject type: name, key prefix, and its fields in describe order."""

    name: str
    prefix: str
    label: str
    plural: str
    fields: tuple[FieldDef, ...]
    _by_lower: dict[str, FieldDef] = field(default_factory=dict, compare=False, repr=False)
    _relations: dict[str, FieldDef] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for item in self.fields:
            self._by_lower[item.name.lower()] = item
            if item.relationship:
                self._relations[item.relationship.lower()] = item

    def field(self, name: str) -> FieldDef | None:
        """A field by name, case-insensitively."""
        return self._by_lower.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field behind a relationship name (``Parent`` → ``ParentId``)."""
        return self._relations.get(name.lower())

    def external_ids(self) -> list[FieldDef]:
        """The fields marked as external ids."""
        return [f for f in self.fields if f.external_id]

    def url(self, version: str, record_id: str | None = None) -> str:
        """The REST path of this object, or of one of its records."""
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return base if record_id is None else f"{base}/{record_id}"


def _f(name: str, type_: str, **kwargs: Any) -> FieldDef:
    label = kwargs.pop("label", None) or _label(name)
    length = kwargs.pop("length", _DEFAULT_LENGTHS.get(type_, 0))
    return FieldDef(name, type_, label=label, length=length, **kwargs)


def _label(name: str) -> str:
    bare = name.removesuffix("__c").removesuffix("Id") or name
    return bare.replace("_", " ")


_READ_ONLY: dict[str, Any] = {"createable": False, "updateable": False}


def _flag(name: str, label: str, **kwargs: Any) -> FieldDef:
    """A checkbox: never null, false unless given."""
    return _f(name, "boolean", label=label, nillable=False, defaulted=True, **kwargs)


def _system_fields(*, owned: bool) -> list[FieldDef]:
    fixed = {"createable": False, "updateable": False, "nillable": False, "defaulted": True}
    user = {"reference_to": ("User",)}
    fields = [
        _f("Id", "id", label="Record ID", **fixed),
        _f("IsDeleted", "boolean", label="Deleted", **fixed),
        _f("CreatedDate", "datetime", **fixed),
        _f("CreatedById", "reference", label="Created By ID", **fixed, **user),
        _f("LastModifiedDate", "datetime", **fixed),
        _f("LastModifiedById", "reference", label="Last Modified By ID", **fixed, **user),
        _f("SystemModstamp", "datetime", label="System Modstamp", **fixed),
    ]
    if owned:
        fields.append(
            _f("OwnerId", "reference", label="Owner ID", nillable=False, defaulted=True, **user)
        )
    return fields


def _account_fields() -> list[FieldDef]:
    return [
        _f("Name", "string", label="Account Name", nillable=False),
        _f(
            "ParentId",
            "reference",
            label="Parent Account ID",
            reference_to=("Account",),
            relationship="Parent",
        ),
        _f("Type", "picklist", picklist=("Prospect", "Customer", "Partner", "Other")),
        _f("Industry", "picklist"),
        _f("Website", "url"),
        _f("Phone", "phone"),
        _f("BillingCity", "string", length=40),
        _f("BillingCountry", "string", length=80),
        _f("AnnualRevenue", "currency", length=0),
        _f("NumberOfEmployees", "int"),
        _f("Description", "textarea"),
    ]


def _contract_fields() -> list[FieldDef]:
    account = {"reference_to": ("Account",), "relationship": "Account"}
    computed = {"createable": False, "updateable": False}
    return [
        _f("AccountId", "reference", label="Account ID", nillable=False, **account),
        _f("Name", "string", label="Contract Name", length=80),
        _f(
            "Status",
            "picklist",
            nillable=False,
            defaulted=True,
            picklist=("Draft", "InApproval", "Activated", "Terminated", "Expired"),
            restricted=True,
        ),
        _f("StartDate", "date", label="Contract Start Date"),
        _f("ContractTerm", "int", label="Contract Term (months)"),
        _f("EndDate", "date", label="Contract End Date", **computed),
        _f("ContractNumber", "string", length=30, nillable=False, defaulted=True, **computed),
        _f("ActivatedDate", "datetime", **computed),
        _f("Description", "textarea"),
    ]


def _opportunity_fields() -> list[FieldDef]:
    return [
        _f(
            "AccountId",
            "reference",
            label="Account ID",
            reference_to=("Account",),
            relationship="Account",
        ),
        _f("Name", "string", nillable=False, length=120),
        _f(
            "StageName",
            "picklist",
            label="Stage",
            nillable=False,
            picklist=("Prospecting", "Qualification", "Negotiation", "Closed Won", "Closed Lost"),
        ),
        _f("CloseDate", "date", nillable=False),
        _f("Amount", "currency"),
        _f("Probability", "percent"),
        _f("Type", "picklist", picklist=("New Business", "Renewal", "Expansion")),
        # as in an org with several currencies (a single-currency org has no such field)
        _f(
            "CurrencyIsoCode",
            "picklist",
            label="Opportunity Currency",
            picklist=("EUR", "USD", "GBP", "CHF", "JPY"),
            restricted=True,
        ),
        _f("Description", "textarea"),
        _flag("IsClosed", "Closed", **_READ_ONLY),
        _flag("IsWon", "Won", **_READ_ONLY),
        _f(
            "Pricebook2Id",
            "reference",
            label="Price Book ID",
            reference_to=("Pricebook2",),
            relationship="Pricebook2",
        ),
        _f(
            "ContractId",
            "reference",
            label="Contract ID",
            reference_to=("Contract",),
            relationship="Contract",
        ),
    ]


def _task_fields() -> list[FieldDef]:
    what = ("Account", "Contract", "Opportunity")
    return [
        _f("WhatId", "reference", label="Related To ID", reference_to=what, relationship="What"),
        _f("Subject", "string"),
        _f(
            "Status",
            "picklist",
            nillable=False,
            defaulted=True,
            picklist=("Not Started", "In Progress", "Completed", "Deferred"),
        ),
        _f(
            "Priority",
            "picklist",
            nillable=False,
            defaulted=True,
            picklist=("High", "Normal", "Low"),
        ),
        _f("ActivityDate", "date", label="Due Date Only"),
        _f("Description", "textarea", label="Comments"),
    ]


def _product_fields() -> list[FieldDef]:
    return [
        _f("Name", "string", label="Product Name", nillable=False),
        _f("ProductCode", "string", label="Product Code"),
        _f("Description", "textarea", label="Product Description", length=4000),
        _flag("IsActive", "Active"),
        _f("Family", "picklist", label="Product Family"),
    ]


def _pricebook_fields() -> list[FieldDef]:
    return [
        _f("Name", "string", label="Price Book Name", nillable=False),
        _flag("IsActive", "Active"),
        _flag("IsStandard", "Is Standard Price Book", **_READ_ONLY),
        _f("Description", "string"),
    ]


def _pricebook_entry_fields() -> list[FieldDef]:
    return [
        _f("Name", "string", label="Product Name", **_READ_ONLY),
        _f(
            "Pricebook2Id",
            "reference",
            label="Price Book ID",
            nillable=False,
            updateable=False,
            reference_to=("Pricebook2",),
            relationship="Pricebook2",
        ),
        _f(
            "Product2Id",
            "reference",
            label="Product ID",
            nillable=False,
            updateable=False,
            reference_to=("Product2",),
            relationship="Product2",
        ),
        _f("UnitPrice", "currency", label="List Price", nillable=False),
        _flag("IsActive", "Active"),
        _flag("UseStandardPrice", "Use Standard Price"),
        _f("ProductCode", "string", label="Product Code", **_READ_ONLY),
    ]


def _opportunity_line_fields() -> list[FieldDef]:
    return [
        _f(
            "OpportunityId",
            "reference",
            label="Opportunity ID",
            nillable=False,
            updateable=False,
            reference_to=("Opportunity",),
            relationship="Opportunity",
        ),
        _f(
            "PricebookEntryId",
            "reference",
            label="Price Book Entry ID",
            nillable=False,
            updateable=False,
            reference_to=("PricebookEntry",),
            relationship="PricebookEntry",
        ),
        _f(
            "Product2Id",
            "reference",
            label="Product ID",
            reference_to=("Product2",),
            relationship="Product2",
            **_READ_ONLY,
        ),
        _f("Name", "string", label="Opportunity Product Name", length=376, **_READ_ONLY),
        _f("Quantity", "double", nillable=False),
        _f("UnitPrice", "currency", label="Sales Price", nillable=False, defaulted=True),
        _f("Discount", "percent"),
        _f("TotalPrice", "currency", label="Total Price", **_READ_ONLY),
        _f("ServiceDate", "date", label="Date"),
        _f("Description", "string", label="Line Description"),
    ]


class _Standard(NamedTuple):
    prefix: str
    label: str
    plural: str
    fields: Callable[[], list[FieldDef]]
    owned: bool = True


#: name → key prefix, labels, standard fields besides the system ones, and whether records have
#: an owner (products, price books and opportunity lines do not)
_STANDARD = {
    "Account": _Standard(ids.ACCOUNT_PREFIX, "Account", "Accounts", _account_fields),
    "Contract": _Standard(ids.CONTRACT_PREFIX, "Contract", "Contracts", _contract_fields),
    "Opportunity": _Standard(
        ids.OPPORTUNITY_PREFIX, "Opportunity", "Opportunities", _opportunity_fields
    ),
    "Task": _Standard(ids.TASK_PREFIX, "Task", "Tasks", _task_fields),
    "Product2": _Standard(ids.PRODUCT_PREFIX, "Product", "Products", _product_fields, False),
    "Pricebook2": _Standard(
        ids.PRICEBOOK_PREFIX, "Price Book", "Price Books", _pricebook_fields, False
    ),
    "PricebookEntry": _Standard(
        ids.PRICEBOOK_ENTRY_PREFIX,
        "Price Book Entry",
        "Price Book Entries",
        _pricebook_entry_fields,
        False,
    ),
    "OpportunityLineItem": _Standard(
        ids.OPPORTUNITY_LINE_PREFIX,
        "Opportunity Product",
        "Opportunity Products",
        _opportunity_line_fields,
        False,
    ),
}
#: defaults given on create when a field is left out
CREATE_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "Contract": {"Status": "Draft"},
    "Task": {"Status": "Not Started", "Priority": "Normal"},
}


def _custom_field(name: str, spec: CustomField | str) -> FieldDef:
    if not name.endswith("__c") or not name[:-3].replace("_", "").isalnum():
        raise ValueError(f"custom field names end in __c: {name!r}")
    declared = spec if isinstance(spec, CustomField) else CustomField(spec)
    type_ = CUSTOM_TYPES[declared.type.lower()]
    boolean = type_ == "boolean"
    return _f(
        name,
        type_,
        label=declared.label or _label(name),
        length=declared.length or _DEFAULT_LENGTHS.get(type_, 0),
        custom=True,
        nillable=not boolean,
        defaulted=boolean,
        external_id=declared.external_id,
        unique=declared.unique,
        picklist=declared.picklist,
    )


def _merge(
    declared: Mapping[str, Mapping[str, CustomField | str]] | None,
) -> dict[str, dict[str, CustomField | str]]:
    merged = {name: dict(fields) for name, fields in DEFAULT_CUSTOM_FIELDS.items()}
    for object_name, fields in (declared or {}).items():
        canonical = next((n for n in _STANDARD if n.lower() == object_name.lower()), None)
        if canonical is None:
            raise ValueError(f"unknown sObject {object_name!r}; one of {sorted(_STANDARD)}")
        merged.setdefault(canonical, {}).update(fields)
    return merged


class Schema:
    """Every sObject type of one sandbox: the standard ones plus the declared custom fields."""

    def __init__(
        self, custom_fields: Mapping[str, Mapping[str, CustomField | str]] | None = None
    ) -> None:
        customs = _merge(custom_fields)
        self._objects: dict[str, ObjectDef] = {}
        for name, spec in _STANDARD.items():
            extra = [_custom_field(n, c) for n, c in customs.get(name, {}).items()]
            fields = (*_system_fields(owned=spec.owned), *spec.fields(), *extra)
            self._objects[name.lower()] = ObjectDef(
                name, spec.prefix, spec.label, spec.plural, fields
            )
        self._by_prefix = {o.prefix: o for o in self._objects.values()}

    def objects(self) -> Iterable[ObjectDef]:
        """Every sObject type."""
        return self._objects.values()

    def object(self, name: str) -> ObjectDef | None:
        """An sObject type by name, case-insensitively."""
        return self._objects.get(name.lower())

    def by_id(self, record_id: str) -> ObjectDef | None:
        """The sObject type an id belongs to (by its key prefix)."""
        return self._by_prefix.get(record_id[:3])


def describe(object_def: ObjectDef, version: str) -> dict[str, Any]:
    """``GET /sobjects/X/describe/``: the global entry, and the fields."""
    return {
        **describe_global_entry(object_def, version),
        "retrieveable": True,
        "searchable": True,
        "undeletable": True,
        "replicateable": True,
        "fields": [f.describe() for f in object_def.fields],
    }


def describe_global_entry(object_def: ObjectDef, version: str) -> dict[str, Any]:
    """One entry of ``GET /sobjects/``."""
    base = object_def.url(version)
    return {
        "name": object_def.name,
        "label": object_def.label,
        "labelPlural": object_def.plural,
        "keyPrefix": object_def.prefix,
        "custom": False,
        "createable": True,
        "updateable": True,
        "deletable": True,
        "queryable": True,
        "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
    }
