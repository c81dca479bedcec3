"""The CRM as an outbox destination: changed signals become one composite update of up to 200
accounts (revsync-owned fields only), a raised risk a task, a sustained expansion an
opportunity — each created once under revsync's key and never rewritten where the CRM owns it.

Writing the same signal values twice changes nothing, and a keyed record is looked up before it
is created, so a resend after a lost answer is safe: the destination needs no lookup by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from revsync.domain.deals import refused_text, status_text
from revsync.domain.delivery import Attempt, ErrorClass, OutboundMessage
from revsync.ports.crm import (
    AccountUpdate,
    Crm,
    CrmRefused,
    CrmUnavailable,
    KeyedRecord,
)
from revsync.ports.remote import unavailable_attempt

#: which CRM object each keyed announcement becomes
KEYED = {"risk.raised": "Task", "expansion.detected": "Opportunity"}
SIGNALS = "signals.updated"
#: a threshold reached: a task for the owner of the customer's account
THRESHOLD = "usage.threshold_crossed"
#: a move on the collections ladder: its tasks opened and completed
COLLECTIONS = "collections.changed"
#: a renewal assessed at a horizon: the account's field, a task or an opportunity
RENEWAL = "renewal.assessed"
#: an onboarding milestone reached or missed: a task
MILESTONE = "onboarding.milestone"
#: a won opportunity taken or refused: its subscription id and status written back on it
DEAL_TAKEN = "deal.taken"
DEAL_REFUSED = "deal.refused"
#: what the CRM hears of
CRM_KINDS = (SIGNALS, *KEYED, THRESHOLD, COLLECTIONS, RENEWAL, MILESTONE, DEAL_TAKEN, DEAL_REFUSED)
#: the CRM's text fields hold this many characters
_TEXT = 255


class CrmDestination:
    """:class:`~revsync.ports.delivery.Destination` that writes to a CRM."""

    def __init__(
        self,
        crm: Crm,
        success_manager_field: str | None = None,
        assessment_field: str | None = None,
        opportunity_fields: Mapping[str, str] | None = None,
    ) -> None:
        """``success_manager_field``: the account field naming the success manager a
        collections task may be for; ``assessment_field``: the account field revsync writes a
        renewal's assessment into; ``opportunity_fields``: the opportunity fields a won deal's
        ``subscription_id`` and ``subscription_status`` go to (by role)."""
        self._crm = crm
        self._manager_field = success_manager_field
        self._assessment_field = assessment_field
        self._opportunity_fields = dict(opportunity_fields or {})

    async def send(self, message: OutboundMessage) -> Attempt:
        try:
            if message.kind == SIGNALS:
                return await self._signals(message.payload)
            if message.kind == THRESHOLD:
                return await self._threshold(message.payload)
            if message.kind == COLLECTIONS:
                return await self._collections(message.payload)
            if message.kind == RENEWAL:
                return await self._renewal(message.payload)
            if message.kind == MILESTONE:
                return await self._milestone(message.payload)
            if message.kind in (DEAL_TAKEN, DEAL_REFUSED):
                return await self._deal(message.payload)
            sobject = KEYED.get(message.kind)
            if sobject is None:
                return Attempt.failed(ErrorClass.SKIPPABLE, f"the CRM does not take {message.kind}")
            return await self._keyed(sobject, message.payload)
        except CrmUnavailable as error:
            return unavailable_attempt(error)
        except CrmRefused as error:
            return Attempt.failed(ErrorClass.FATAL, str(error))
        except (KeyError, TypeError, ValueError) as error:
            return Attempt.failed(ErrorClass.FATAL, f"cannot map to the CRM: {error!r}")

    async def _signals(self, payload: Mapping[str, Any]) -> Attempt:
        updates = [
            AccountUpdate(str(a["account_id"]), dict(a["values"])) for a in payload["accounts"]
        ]
        results = await self._crm.update_accounts(updates)
        refused = [r for r in results if not r.ok]
        if refused:
            listed = "; ".join(f"{r.account_id}: {r.error}" for r in refused)
            return Attempt.failed(
                ErrorClass.FATAL,
                f"the CRM refused {len(refused)} of {len(results)} accounts (the others were "
                f"written): {listed}",
            )
        return Attempt.ok(f"{len(results)} accounts")

    async def _deal(self, payload: Mapping[str, Any]) -> Attempt:
        """Write what a won opportunity became on it: the subscription's id and its status
        (``active — growth@1, 10 seats from 2026-12-01``), or why revsync refused it."""
        fields = self._opportunity_fields
        if not fields:
            return Attempt.failed(ErrorClass.SKIPPABLE, "no opportunity fields to write")
        if "reason" in payload:
            values = {fields["subscription_status"]: refused_text(payload["reason"])[:_TEXT]}
        else:
            status = status_text(
                payload["status"], payload["plan"], int(payload["seats"]), payload["start"]
            )
            values = {
                fields["subscription_id"]: str(payload["subscription_id"]),
                fields["subscription_status"]: status[:_TEXT],
            }
        opportunity = str(payload["opportunity_id"])
        await self._crm.update_record("Opportunity", opportunity, values)
        return Attempt.ok(opportunity)

    async def _keyed(self, sobject: str, payload: Mapping[str, Any]) -> Attempt:
        record = KeyedRecord(
            key=str(payload["key"]),
            account_id=str(payload["account_id"]),
            create_values=dict(payload.get("create_values") or {}),
            values=dict(payload.get("values") or {}),
        )
        result = await self._crm.put_keyed(sobject, record)
        return Attempt.ok(result.record_id)

    async def _threshold(self, payload: Mapping[str, Any]) -> Attempt:
        """A task for the owner of the account, created once under the crossing's key."""
        account_id = payload.get("crm_account_id")
        if not account_id:
            return Attempt.failed(
                ErrorClass.SKIPPABLE, "the customer has no CRM account: no task to create"
            )
        threshold, period = payload["threshold"], payload["period"]
        owner = (await self._crm.read("Account", str(account_id), ["OwnerId"])).get("OwnerId")
        create = {
            "Subject": f"revsync: {threshold_text(payload)} — {payload['customer_name']}",
            "Status": "Not Started",
            "Priority": "High" if threshold["kind"] == "spend" else "Normal",
            "ActivityDate": str(payload["crossed_at"])[:10],
            "Description": (
                f"Subscription {payload['subscription_id']} ({payload['plan']}), usage period "
                f"{period['start']} to {period['end']}: {threshold_text(payload)}."
                + (
                    f" Interim invoice {payload['interim_invoice_number']} was issued."
                    if payload.get("interim_invoice_number")
                    else ""
                )
            ),
        }
        if owner:
            create["OwnerId"] = str(owner)
        key = f"threshold:{payload['subscription_id']}:{threshold['key']}:{period['start']}"
        record = KeyedRecord(key, str(account_id), create, {})
        result = await self._crm.put_keyed("Task", record)
        return Attempt.ok(result.record_id)

    async def _collections(self, payload: Mapping[str, Any]) -> Attempt:
        """Open the tasks of the rungs reached (for the account's owner or the user its
        success-manager field names, else its owner) and complete those of the rungs left,
        each under its key: a resend finds them and writes the same status again."""
        account_id = payload.get("account_id")
        opening, closing = payload.get("open_tasks") or [], payload.get("close_tasks") or []
        if not opening and not closing:
            return Attempt.ok("no task to open or complete")
        if not account_id:
            return Attempt.failed(
                ErrorClass.SKIPPABLE, "the customer has no CRM account: no task to write"
            )
        owners: dict[str, Any] = {}
        if opening:
            fields = ["OwnerId", *([self._manager_field] if self._manager_field else [])]
            owners = await self._crm.read("Account", str(account_id), fields)
        done = []
        for task in opening:
            owner = owners.get("OwnerId")
            if task["assignee"] == "success_manager" and self._manager_field:
                owner = owners.get(self._manager_field) or owner
            create = {
                "Subject": task["subject"],
                "Priority": "High",
                "ActivityDate": str(payload["since"]),
                "Description": task["description"],
                **({"OwnerId": str(owner)} if owner else {}),
            }
            status = {"Status": "Not Started"}  # again open, when it was left and reached again
            record = KeyedRecord(str(task["key"]), str(account_id), create, status)
            done.append((await self._crm.put_keyed("Task", record)).record_id)
        for task in closing:
            subject = f"revsync collections: dunning level {task['level']}"
            record = KeyedRecord(
                str(task["key"]), str(account_id), {"Subject": subject}, {"Status": "Completed"}
            )
            done.append((await self._crm.put_keyed("Task", record)).record_id)
        return Attempt.ok(", ".join(done))

    async def _renewal(self, payload: Mapping[str, Any]) -> Attempt:
        """The account's assessment field; a task for the account's owner when the renewal is
        at risk (one per horizon), an expansion opportunity (one per renewal) when there is room
        to grow; healthy: the field only."""
        account_id = payload.get("account_id")
        if not account_id:
            return Attempt.failed(
                ErrorClass.SKIPPABLE, "the customer has no CRM account: nothing to write"
            )
        verdict, reasons = str(payload["verdict"]), [str(r) for r in payload["reasons"]]
        renewal, horizon = str(payload["renewal_date"]), int(payload["horizon"])
        text = f"{verdict} ({payload['days']} days before the renewal of {renewal}): " + "; ".join(
            reasons
        )
        done = []
        if self._assessment_field:
            update = AccountUpdate(str(account_id), {self._assessment_field: text})
            [result] = await self._crm.update_accounts([update])
            if not result.ok:
                raise CrmRefused(f"account {account_id}: {result.error}")
        name = payload["customer_name"]
        if verdict == "at_risk":
            owner = (await self._crm.read("Account", str(account_id), ["OwnerId"])).get("OwnerId")
            create = {
                "Subject": f"revsync: renewal at risk in {horizon} days — {name}",
                "Status": "Not Started",
                "Priority": "High",
                "ActivityDate": renewal,
                "Description": "\n".join(reasons),
                **({"OwnerId": str(owner)} if owner else {}),
            }
            record = KeyedRecord(str(payload["key"]), str(account_id), create, {})
            done.append((await self._crm.put_keyed("Task", record)).record_id)
        elif verdict == "expansion":
            key = f"renewal:{payload['subscription_id']}:{renewal}:expansion"
            create = {
                "Name": f"Expansion at renewal: {name} ({payload['plan']})",
                "StageName": "Prospecting",
                "CloseDate": renewal,
                "Type": "Expansion",
                "Description": "\n".join(reasons),
            }
            record = KeyedRecord(key, str(account_id), create, {})
            done.append((await self._crm.put_keyed("Opportunity", record)).record_id)
        return Attempt.ok(", ".join(done) or "assessment written")

    async def _milestone(self, payload: Mapping[str, Any]) -> Attempt:
        """A task for the account's owner: completed when the milestone was reached (a record
        of it), open and high when it was missed (someone should call)."""
        account_id = payload.get("account_id")
        if not account_id:
            return Attempt.failed(
                ErrorClass.SKIPPABLE, "the customer has no CRM account: no task to create"
            )
        reached = payload["state"] == "reached"
        owner = (await self._crm.read("Account", str(account_id), ["OwnerId"])).get("OwnerId")
        what = (
            f"{payload['meter']} {payload['used']} of {payload['at_least']} since "
            f"{payload['start']} (by {payload['deadline']})"
        )
        create = {
            "Subject": f"revsync onboarding: {payload['milestone']} "
            f"{'reached' if reached else 'missed'} — {payload['customer_name']}",
            "Status": "Completed" if reached else "Not Started",
            "Priority": "Normal" if reached else "High",
            "ActivityDate": str(payload["deadline"]),
            "Description": f"Subscription {payload['subscription_id']}: {what}.",
            **({"OwnerId": str(owner)} if owner else {}),
        }
        record = KeyedRecord(str(payload["key"]), str(account_id), create, {})
        return Attempt.ok((await self._crm.put_keyed("Task", record)).record_id)

    async def find_by_key(self, key: str) -> Attempt | None:
        return None  # every send is safe to repeat (see the module docstring)

    async def aclose(self) -> None:
        await self._crm.aclose()


def threshold_text(payload: Mapping[str, Any]) -> str:
    """A threshold reached, in words: ``api_calls reached 150,000 (observed 150,204)``."""
    threshold = payload["threshold"]
    kind = threshold["kind"]
    if kind == "spend":
        what = f"spend reached {payload['limit']} {payload['currency']}"
    elif kind == "percent":
        what = f"{threshold['meter']} reached {threshold['value']}% of what the plan includes"
    else:
        what = f"{threshold['meter']} reached {threshold['value']}"
    return f"{what} (now {payload['observed']})"
