"""GET /v1/customers/{id}/usage: exact aggregates per calendar window, group and time zone.

The property test posts random events through the API and compares every answer with an
independent model written here (local calendar fields of ``datetime.astimezone``, Decimal
arithmetic). The unit tests pin down edge cases with written-out expectations.
"""

from __future__ import annotations

import decimal
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from revsync.bootstrap import build
from revsync.config import Settings
from revsync.entrypoints.api.app import create_app
from tests.conftest import NOW, TEST_METERS, issue_key, make_settings
from tests.support import databases
from tests.support.clock import FrozenClock, utc
from tests.support.events import encode, event

BATCH = {"Content-Type": "application/cloudevents-batch+json"}
ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Kathmandu")
TENANTS = ("t-1", "t-2")
UNMAPPED = "t-x"
SOURCES = ("app://a", "app://b")
#: the test meters, those that read numbers taking negative values too (the aggregation is
#: what this module checks; refusing negatives is the ingestion's business)
SIGNED_METERS = [
    {**m, "allow_negative": True} if m["aggregation"] in ("sum", "max", "latest") else m
    for m in TEST_METERS
]
METERS: dict[str, dict[str, Any]] = {m["key"]: m for m in SIGNED_METERS}
TYPES = tuple(m["event_type"] for m in TEST_METERS)

#: events are stamped in [T_MIN, T_MAX]: late (October) up to the 24 h the clock allows
T_MIN = utc(2026, 9, 30)
T_MAX = NOW + timedelta(hours=24)


# --- the independent model ---------------------------------------------------------------


@dataclass(frozen=True)
class Ev:
    """One generated event; ``time`` is an aware UTC instant, ``wire_zone`` how it is written."""

    source: str
    id: str
    type: str
    subject: str
    time: datetime
    wire_zone: str
    data: dict[str, Any]

    def wire(self, zone: str | None = None) -> dict[str, Any]:
        stamp = self.time.astimezone(ZoneInfo(zone or self.wire_zone))
        return event(
            self.id,
            subject=self.subject,
            time=stamp,
            type=self.type,
            source=self.source,
            data=self.data,
        )


@dataclass(frozen=True)
class Query:
    """One usage question; ``start``/``end`` None means the API default."""

    meter: str
    window: str | None
    group_by: tuple[str, ...]
    tz: str | None
    start: datetime | None
    end: datetime | None

    def params(self) -> dict[str, str]:
        params = {"meter": self.meter}
        if self.window is not None:
            params["window"] = self.window
        if self.group_by:
            params["group_by"] = ",".join(self.group_by)
        if self.tz is not None:
            params["tz"] = self.tz
        if self.start is not None:
            params["from"] = self.start.isoformat()
        if self.end is not None:
            params["to"] = self.end.isoformat()
        return params


@dataclass(frozen=True)
class Scenario:
    zone: str
    map_first: bool
    batches: tuple[tuple[Ev, ...], ...]
    queries: tuple[Query, ...]


def json_key(value: Any) -> tuple[Any, ...]:
    """Equal JSON scalars share a key (1 == 1.0, but True != 1 and "1" != 1)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | Decimal):
        return ("num", Decimal(value))
    if isinstance(value, str):
        return ("str", value)
    if value is None:
        return ("null",)
    raise AssertionError(f"not a scalar: {value!r}")


def dimension(data: dict[str, Any], name: str) -> Any:
    """A group value: the scalar at ``name``; absent, null, objects and arrays are None."""
    value = data.get(name)
    return value if isinstance(value, str | int | Decimal | bool) else None


def accepted_by_filters(meter: dict[str, Any], data: dict[str, Any]) -> bool:
    for name, allowed in meter.get("filters", {}).items():
        values = allowed if isinstance(allowed, list) else [allowed]
        if name not in data or not isinstance(data[name], str | int | Decimal | bool | None):
            return False
        if json_key(data[name]) not in {json_key(v) for v in values}:
            return False
    return True


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def month_start(moment: datetime, zone: ZoneInfo, months_later: int = 0) -> datetime:
    local = moment.astimezone(zone)
    index = local.year * 12 + local.month - 1 + months_later
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=zone)


def window_of(moment: datetime, zone: ZoneInfo, window: str) -> tuple[datetime, datetime]:
    """The calendar window holding ``moment``, from the local clock's calendar fields."""
    local = moment.astimezone(zone)
    if window == "hour":
        # one local clock hour at one UTC offset: the repeated hour of a fall-back is two
        offset = local.utcoffset()
        assert offset is not None
        start = datetime(local.year, local.month, local.day, local.hour, tzinfo=timezone(offset))
        return start, start + timedelta(hours=1)
    if window == "day":
        day = local.date()
        return local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)
    assert window == "month"
    return month_start(moment, zone), month_start(moment, zone, 1)


def instant(value: datetime) -> datetime:
    return value.astimezone(UTC)


Buckets = dict[tuple[datetime, datetime, tuple[Any, ...]], tuple[Decimal, int]]


def effective_range(query: Query, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = query.start or month_start(NOW, zone)
    end = query.end or month_start(NOW, zone, 1)
    return start, end


def expected_buckets(stored: list[Ev], query: Query, customer_zone: str) -> Buckets:
    zone = ZoneInfo(query.tz or customer_zone)
    meter = METERS[query.meter]
    start, end = effective_range(query, zone)
    members: dict[tuple[datetime, datetime, tuple[Any, ...]], list[Ev]] = {}
    for ev in stored:
        if ev.subject not in TENANTS or ev.type != meter["event_type"]:
            continue
        if not start <= ev.time < end or not accepted_by_filters(meter, ev.data):
            continue
        begin, stop = (
            (start, end) if query.window is None else window_of(ev.time, zone, query.window)
        )
        group = tuple(sorted((d, json_key(dimension(ev.data, d))) for d in query.group_by))
        members.setdefault((instant(begin), instant(stop), group), []).append(ev)
    result: Buckets = {}
    with decimal.localcontext(prec=200):
        for key, evs in members.items():
            result[key] = (aggregate(meter, evs), len(evs))
    return result


def aggregate(meter: dict[str, Any], evs: list[Ev]) -> Decimal:
    kind = meter["aggregation"]
    if kind == "count":
        return Decimal(len(evs))
    values = [ev.data[meter["value"]] for ev in evs]
    if kind == "sum":
        return sum((Decimal(v) for v in values), Decimal(0))
    if kind == "max":
        return max(Decimal(v) for v in values)
    if kind == "unique_count":
        return Decimal(len({json_key(v) for v in values}))
    assert kind == "latest"
    last = max(evs, key=lambda ev: (ev.time, ev.source, ev.id))
    return Decimal(last.data[meter["value"]])


def answered_buckets(body: dict[str, Any]) -> Buckets:
    result: Buckets = {}
    previous: datetime | None = None
    for bucket in body["buckets"]:
        begin = instant(datetime.fromisoformat(bucket["start"]))
        stop = instant(datetime.fromisoformat(bucket["end"]))
        assert previous is None or previous <= begin, "buckets are sorted by start"
        previous = begin
        group = tuple(sorted((d, json_key(v)) for d, v in bucket["group"].items()))
        key = (begin, stop, group)
        assert key not in result, f"two buckets for one window and group: {bucket}"
        result[key] = (Decimal(bucket["value"]), bucket["events"])
    return result


# --- strategies --------------------------------------------------------------------------

#: instants where calendars turn: DST fall-backs (Paris, New York), month starts per zone
ANCHORS = (
    utc(2026, 10, 25, 0),  # Paris: 02:00 CEST, the first 02:00
    utc(2026, 10, 25, 1),  # Paris: 02:00 CET, the repeated hour
    utc(2026, 10, 25, 2),
    utc(2026, 11, 1, 5),  # New York: 01:00 EDT
    utc(2026, 11, 1, 6),  # New York: 01:00 EST, the repeated hour
    utc(2026, 11, 1, 7),
    utc(2026, 10, 1),
    utc(2026, 11, 1),
    utc(2026, 9, 30, 22),  # Paris: 1 October
    utc(2026, 10, 31, 23),  # Paris: 1 November
    utc(2026, 10, 1, 4),  # New York: 1 October
    utc(2026, 11, 1, 4),  # New York: 1 November
    datetime(2026, 9, 30, 18, 15, tzinfo=UTC),  # Kathmandu: 1 October
    datetime(2026, 10, 31, 18, 15, tzinfo=UTC),  # Kathmandu: 1 November
    NOW,
)
NUDGES = (0, 0, 0, -1, 1, -1000, 999_999, -3_600_000_000, 1_800_000_000)

local_midnights = st.builds(
    local_midnight,
    st.dates(min_value=date(2026, 9, 30), max_value=date(2026, 11, 16)),
    st.sampled_from(ZONES).map(ZoneInfo),
)
anchored = st.builds(
    lambda base, nudge: base + timedelta(microseconds=nudge),
    st.one_of(st.sampled_from(ANCHORS), local_midnights),
    st.one_of(st.sampled_from(NUDGES), st.integers(-7_200_000_000, 7_200_000_000)),
)
uniform = st.datetimes(
    min_value=T_MIN.replace(tzinfo=None), max_value=T_MAX.replace(tzinfo=None)
).map(lambda naive: naive.replace(tzinfo=UTC))
event_times = st.one_of(uniform, anchored).map(
    lambda moment: min(max(instant(moment), T_MIN), T_MAX)
)

numbers = st.one_of(
    st.integers(-(10**12), 10**12),
    st.builds(
        lambda digits, places: Decimal(digits).scaleb(-places),
        st.integers(-(10**9), 10**9),
        st.integers(0, 6),
    ),
)
DIMENSION_VALUES = ("/a", "/b", "", 7, True, None, {"nested": 1}, [1])
dimension_values = st.sampled_from(DIMENSION_VALUES)
USERS = ("u1", "u2", "u3", "1", 1, 2, Decimal("1.0"), Decimal("2.50"), True, False)


@st.composite
def event_data(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    data: dict[str, Any] = {}

    def maybe(name: str, values: st.SearchStrategy[Any]) -> None:
        if draw(st.booleans()):
            data[name] = draw(values)

    if kind == "api.request":
        maybe("endpoint", dimension_values)
        maybe("environment", st.sampled_from(["production", "staging", None]))
    elif kind == "llm.completion":
        maybe("environment", st.sampled_from(["production", "production", "staging", True]))
        maybe("model", dimension_values)
        if data.get("environment") == "production":
            data["tokens"] = draw(numbers)  # required: the meter's filter accepts it
        else:
            maybe("tokens", st.one_of(numbers, st.just("many")))  # ignored by the meter
    elif kind == "storage.snapshot":
        data["gb"] = draw(numbers)
    elif kind == "app.session":
        data["user"] = draw(st.sampled_from(USERS))
    else:
        data["seats"] = draw(numbers)
    maybe("note", st.sampled_from(["x", 1, None]))
    return data


@st.composite
def events_strategy(
    draw: st.DrawFn, kinds: list[str], times: st.SearchStrategy[datetime]
) -> list[Ev]:
    count = draw(st.integers(1, 60))
    events: list[Ev] = []
    for index in range(count):
        kind = draw(st.sampled_from(kinds))
        events.append(
            Ev(
                source=draw(st.sampled_from(SOURCES)),
                id=f"e{index}",
                type=kind,
                subject=draw(st.sampled_from((*TENANTS, *TENANTS, UNMAPPED))),
                time=draw(times),
                wire_zone=draw(st.sampled_from(ZONES)),
                data=draw(event_data(kind)),
            )
        )
    return events


def in_some_zone(moment: datetime) -> st.SearchStrategy[datetime]:
    return st.sampled_from(ZONES).map(lambda zone: moment.astimezone(ZoneInfo(zone)))


query_instants = st.one_of(
    st.datetimes(min_value=datetime(2026, 9, 25), max_value=datetime(2026, 12, 5)).map(
        lambda naive: naive.replace(tzinfo=UTC)
    ),
    anchored,
)


@st.composite
def queries(draw: st.DrawFn, meters: list[str], hot: list[datetime]) -> Query:
    meter = draw(st.sampled_from(meters))
    dims = METERS[meter].get("group_by", [])
    # bounds are often exactly at (or 1 µs around) an instant that events share
    near_hot = st.builds(
        lambda moment, nudge: moment + timedelta(microseconds=nudge),
        st.sampled_from(hot),
        st.sampled_from([0, 0, -1, 1]),
    )
    bound = st.one_of(st.none(), query_instants, near_hot).flatmap(
        lambda moment: st.none() if moment is None else in_some_zone(moment)
    )
    return Query(
        meter=meter,
        window=draw(st.sampled_from([None, "hour", "day", "month"])),
        group_by=tuple(draw(st.lists(st.sampled_from(dims), unique=True))) if dims else (),
        tz=draw(st.sampled_from([None, *ZONES])),
        start=draw(bound),
        end=draw(bound),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    # a few event types and a few shared instants per scenario, so that buckets fill up,
    # LATEST meets ties in time, and range bounds fall exactly on events
    kinds = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True))
    hot = draw(st.lists(event_times, min_size=1, max_size=4))
    events = draw(events_strategy(kinds, st.one_of(st.sampled_from(hot), event_times)))
    # twins: other events at the very same instant, so that LATEST must break ties
    for index, twin in enumerate(draw(st.lists(st.sampled_from(events), max_size=6))):
        events.append(
            Ev(
                draw(st.sampled_from(SOURCES)),
                f"{draw(st.sampled_from('adz'))}{index}",
                twin.type,
                twin.subject,
                twin.time,
                twin.wire_zone,
                draw(event_data(twin.type)),
            )
        )
    # some events are sent again, written at another offset: duplicates, counted once
    again = draw(st.lists(st.sampled_from(events), max_size=5))
    resent = [
        Ev(e.source, e.id, e.type, e.subject, e.time, draw(st.sampled_from(ZONES)), e.data)
        for e in again
    ]
    stream = draw(st.permutations([*events, *resent]))
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=2)))
    bounds = [0, *cuts, len(stream)]
    batches = tuple(tuple(stream[a:b]) for a, b in itertools.pairwise(bounds) if b > a)
    meters = [key for key, meter in METERS.items() if meter["event_type"] in kinds]
    asked = draw(
        st.lists(
            queries(draw(st.sampled_from([meters, sorted(METERS)])), hot), min_size=1, max_size=3
        )
    )
    # and always the whole span by month, so that late (October) usage is compared too
    whole = Query(asked[0].meter, "month", asked[0].group_by, asked[0].tz, T_MIN, T_MAX)
    return Scenario(
        zone=draw(st.sampled_from(ZONES)),
        map_first=draw(st.booleans()),
        batches=batches,
        queries=(*asked, whole),
    )


def _late_example() -> Scenario:
    """Late October usage and the two 02:00 hours of the Paris fall-back, written out."""
    api_data = {"endpoint": "/a", "environment": "production"}
    evs = (
        Ev("app://a", "late-1", "api.request", "t-1", utc(2026, 10, 12, 8), "UTC", api_data),
        Ev("app://a", "late-2", "api.request", "t-2", utc(2026, 10, 25, 0, 30), "UTC", api_data),
        Ev("app://b", "late-3", "api.request", "t-1", utc(2026, 10, 25, 1, 30), "UTC", {}),
        Ev("app://a", "now-1", "api.request", "t-2", utc(2026, 11, 10), "UTC", api_data),
        Ev("app://a", "other", "api.request", UNMAPPED, utc(2026, 10, 25, 1), "UTC", {}),
    )
    hourly = Query("api_calls", "hour", (), None, utc(2026, 10, 1), utc(2026, 11, 16))
    monthly = Query("api_calls", "month", ("endpoint",), None, T_MIN, T_MAX)
    return Scenario("Europe/Paris", True, (evs,), (hourly, monthly))


# --- the property ------------------------------------------------------------------------


@dataclass
class Expected:
    accepted: int = 0
    duplicates: int = 0
    unmapped: int = 0
    late: int = 0


def expected_ingestion(
    scenario: Scenario, mapped: bool, seen: dict[Any, Ev], batch: tuple[Ev, ...]
) -> Expected:
    outcome = Expected()
    for ev in batch:
        key = (ev.source, ev.id)
        if key in seen:
            outcome.duplicates += 1
            continue
        seen[key] = ev
        outcome.accepted += 1
        owned = mapped and ev.subject in TENANTS
        outcome.unmapped += not owned
        zone = ZoneInfo(scenario.zone if owned else "UTC")
        outcome.late += ev.time < month_start(NOW, zone)
    return outcome


@contextmanager
def fresh_api(template: Path, directory: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The API over a new database copied from the template, with the clock at NOW."""
    container = build(
        make_settings(databases.sqlite_copy(template, directory), meters=SIGNED_METERS),
        clock=FrozenClock(NOW),
    )
    try:
        key = issue_key(container, "admin")
        with TestClient(create_app(container)) as client:
            yield client, key
    finally:
        container.close()


def put_customer(
    api: TestClient, key: dict[str, str], cid: str, zone: str, tenants: list[str], **extra: Any
) -> dict[str, Any]:
    body = {
        "name": cid.title(),
        "currency": "EUR",
        "timezone": zone,
        "external_refs": {"product": tenants},
        **extra,
    }
    response = api.put(f"/v1/customers/{cid}", json=body, headers=key)
    assert response.status_code in (200, 201), response.text
    answer: dict[str, Any] = response.json()
    return answer


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
@example(scenario=_late_example())
def test_usage_matches_an_independent_computation(
    scenario: Scenario, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with fresh_api(sqlite_template, tmp_path_factory.mktemp("usage")) as (api, key):
        if scenario.map_first:
            put_customer(api, key, "acme", scenario.zone, list(TENANTS))
        seen: dict[Any, Ev] = {}
        for batch in scenario.batches:
            expected = expected_ingestion(scenario, scenario.map_first, seen, batch)
            body = encode([ev.wire() for ev in batch])
            response = api.post("/v1/events", content=body, headers={**key, **BATCH})
            assert response.status_code == 200, response.text
            assert response.json() == {
                "accepted": expected.accepted,
                "duplicates": expected.duplicates,
                "unmapped": expected.unmapped,
                "late": expected.late,
                "rejected": [],
            }
        stored = list(seen.values())
        if not scenario.map_first:
            put = put_customer(api, key, "acme", scenario.zone, list(TENANTS))
            owned = sum(ev.subject in TENANTS for ev in stored)
            assert put["attached_unmapped_events"] == owned

        for query in scenario.queries:
            zone_name = query.tz or scenario.zone
            start, end = effective_range(query, ZoneInfo(zone_name))
            response = api.get("/v1/customers/acme/usage", params=query.params(), headers=key)
            if end <= start:
                assert response.status_code == 422, response.text
                assert response.json()["error"]["field"] == "to"
                continue
            assert response.status_code == 200, (query, response.text)
            body = response.json()
            assert (body["meter"], body["timezone"], body["customer_ids"]) == (
                query.meter,
                zone_name,
                ["acme"],
            )
            assert instant(datetime.fromisoformat(body["start"])) == instant(start)
            assert instant(datetime.fromisoformat(body["end"])) == instant(end)
            assert answered_buckets(body) == expected_buckets(stored, query, scenario.zone), query


# --- written-out cases -------------------------------------------------------------------


@pytest.fixture
def settings(any_db_url: str) -> Settings:
    """The written-out cases run on SQLite and PostgreSQL (the reader's SQL differs)."""
    return make_settings(any_db_url, meters=SIGNED_METERS)


def post(api: TestClient, key: dict[str, str], events: list[dict[str, Any]]) -> dict[str, Any]:
    response = api.post("/v1/events", content=encode(events), headers={**key, **BATCH})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert result["rejected"] == [], result
    return result


def usage(api: TestClient, key: dict[str, str], cid: str, **params: str) -> Any:
    return api.get(f"/v1/customers/{cid}/usage", params=params, headers=key)


def summary(body: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    return [(b["start"], b["end"], b["value"], b["events"]) for b in body["buckets"]]


def test_the_last_millisecond_of_a_local_day_and_the_next_midnight_are_two_days(
    api: TestClient, admin: dict[str, str]
) -> None:
    put_customer(api, admin, "acme", "Europe/Paris", ["t-1"])
    post(
        api,
        admin,
        [
            event("before", subject="t-1", time="2026-11-09T23:59:59.999+01:00"),
            event("after", subject="t-1", time="2026-11-10T00:00:00+01:00"),
        ],
    )
    paris = usage(api, admin, "acme", meter="api_calls", window="day")
    assert paris.status_code == 200, paris.text
    assert summary(paris.json()) == [
        ("2026-11-09T00:00:00+01:00", "2026-11-10T00:00:00+01:00", "1", 1),
        ("2026-11-10T00:00:00+01:00", "2026-11-11T00:00:00+01:00", "1", 1),
    ]
    # both instants fall on 9 November in UTC: the split comes from the customer's zone
    in_utc = usage(api, admin, "acme", meter="api_calls", window="day", tz="UTC")
    assert summary(in_utc.json()) == [
        ("2026-11-09T00:00:00Z", "2026-11-10T00:00:00Z", "2", 2),
    ]


def test_include_descendants_adds_the_usage_of_child_accounts(
    api: TestClient, admin: dict[str, str]
) -> None:
    put_customer(api, admin, "group", "UTC", ["p-1"])
    put_customer(api, admin, "branch", "UTC", ["c-1"], parent_id="group")
    put_customer(api, admin, "office", "UTC", ["g-1"], parent_id="branch")
    put_customer(api, admin, "stranger", "UTC", ["s-1"])
    events = [
        *(event(f"p{i}", subject="p-1") for i in range(2)),
        *(event(f"c{i}", subject="c-1") for i in range(3)),
        *(event(f"g{i}", subject="g-1") for i in range(4)),
        *(event(f"s{i}", subject="s-1") for i in range(5)),
    ]
    post(api, admin, events)

    def total(cid: str, **params: str) -> tuple[list[str], list[tuple[str, int]]]:
        response = usage(api, admin, cid, meter="api_calls", **params)
        assert response.status_code == 200, response.text
        body = response.json()
        return sorted(body["customer_ids"]), [(b["value"], b["events"]) for b in body["buckets"]]

    assert total("group") == (["group"], [("2", 2)])
    assert total("group", include_descendants="true") == (
        ["branch", "group", "office"],
        [("9", 9)],
    )
    assert total("branch", include_descendants="true") == (["branch", "office"], [("7", 7)])
    assert total("office", include_descendants="true") == (["office"], [("4", 4)])


def test_an_unknown_meter_is_422_naming_meter(api: TestClient, admin: dict[str, str]) -> None:
    put_customer(api, admin, "acme", "UTC", ["t-1"])
    response = usage(api, admin, "acme", meter="fuel")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "meter"
    assert "fuel" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-11-10T00:00:00Z", "2026-11-09T00:00:00Z"),
        ("2026-11-10T00:00:00Z", "2026-11-10T00:00:00Z"),
        ("2026-11-10T00:00:00Z", "2026-11-10T00:30:00+01:00"),  # a later wall clock, 30 min earlier
        ("2026-12-02T00:00:00Z", ""),  # after the default end (the end of this month)
    ],
)
def test_to_not_after_from_is_422(
    api: TestClient, admin: dict[str, str], start: str, end: str
) -> None:
    put_customer(api, admin, "acme", "UTC", ["t-1"])
    params = {"meter": "api_calls", "from": start, **({"to": end} if end else {})}
    response = usage(api, admin, "acme", **params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "to"


def test_grouping_by_an_undeclared_dimension_is_422_naming_group_by(
    api: TestClient, admin: dict[str, str]
) -> None:
    put_customer(api, admin, "acme", "UTC", ["t-1"])
    response = usage(api, admin, "acme", meter="api_calls", group_by="endpoint,model")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "group_by"
    assert "model" in error["message"]
    no_dimensions = usage(api, admin, "acme", meter="seats", group_by="seats")
    assert no_dimensions.status_code == 422
    assert no_dimensions.json()["error"]["field"] == "group_by"


def test_an_unknown_customer_is_404(api: TestClient, admin: dict[str, str]) -> None:
    response = usage(api, admin, "nobody", meter="api_calls")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    descendants = usage(api, admin, "nobody", meter="api_calls", include_descendants="true")
    assert descendants.status_code == 404


@pytest.mark.parametrize(
    ("zone", "month_start_utc", "month_end_utc"),
    [
        ("Europe/Paris", utc(2026, 10, 31, 23), utc(2026, 11, 30, 23)),
        ("America/New_York", utc(2026, 11, 1, 4), utc(2026, 12, 1, 5)),
        ("Asia/Kathmandu", datetime(2026, 10, 31, 18, 15, tzinfo=UTC), utc(2026, 11, 30, 18, 15)),
    ],
)
def test_the_default_range_is_the_current_month_of_the_customer(
    api: TestClient,
    admin: dict[str, str],
    clock: FrozenClock,
    zone: str,
    month_start_utc: datetime,
    month_end_utc: datetime,
) -> None:
    put_customer(api, admin, "acme", zone, ["t-1"])
    tick = timedelta(microseconds=1)
    clock.set(utc(2026, 12, 1, 12))  # so that the last instants of November can be sent
    post(
        api,
        admin,
        [
            event("before", subject="t-1", time=month_start_utc - tick),
            event("first", subject="t-1", time=month_start_utc),
            event("last", subject="t-1", time=month_end_utc - tick),
            event("after", subject="t-1", time=month_end_utc),
        ],
    )
    clock.set(NOW)
    response = usage(api, admin, "acme", meter="api_calls")
    assert response.status_code == 200, response.text
    body = response.json()
    local = ZoneInfo(zone)
    assert datetime.fromisoformat(body["start"]) == datetime(2026, 11, 1, tzinfo=local)
    assert datetime.fromisoformat(body["end"]) == datetime(2026, 12, 1, tzinfo=local)
    assert (
        datetime.fromisoformat(body["start"]).utcoffset()
        == month_start_utc.astimezone(local).utcoffset()
    )
    assert instant(datetime.fromisoformat(body["start"])) == month_start_utc
    assert instant(datetime.fromisoformat(body["end"])) == month_end_utc
    assert [(b["value"], b["events"]) for b in body["buckets"]] == [("2", 2)]
    by_day = usage(api, admin, "acme", meter="api_calls", window="day").json()
    assert [datetime.fromisoformat(b["start"]) for b in by_day["buckets"]] == [
        datetime(2026, 11, 1, tzinfo=local),
        datetime(2026, 11, 30, tzinfo=local),
    ]


def test_the_repeated_hour_of_a_fall_back_gives_two_hour_buckets(
    api: TestClient, admin: dict[str, str]
) -> None:
    put_customer(api, admin, "acme", "Europe/Paris", ["t-1"])
    post(
        api,
        admin,
        [
            event("cest", subject="t-1", time="2026-10-25T02:30:00+02:00"),
            event("cet-1", subject="t-1", time="2026-10-25T02:10:00+01:00"),
            event("cet-2", subject="t-1", time="2026-10-25T02:59:59.999999+01:00"),
        ],
    )
    params = {"from": "2026-10-25T00:00:00+02:00", "to": "2026-10-26T00:00:00+01:00"}
    hourly = usage(api, admin, "acme", meter="api_calls", window="hour", **params)
    assert hourly.status_code == 200, hourly.text
    assert summary(hourly.json()) == [
        ("2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", "1", 1),
        ("2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00", "2", 2),
    ]
    daily = usage(api, admin, "acme", meter="api_calls", window="day", **params)
    assert summary(daily.json()) == [
        ("2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", "3", 3),  # a 25-hour day
    ]


def test_latest_breaks_ties_in_time_by_source_then_id(
    api: TestClient, admin: dict[str, str]
) -> None:
    put_customer(api, admin, "acme", "UTC", ["t-1"])
    at = "2026-11-10T10:00:00Z"
    post(
        api,
        admin,
        [
            event(
                "a1",
                subject="t-1",
                type="seats.reported",
                source="app://b",
                time=at,
                data={"seats": 10},
            ),
            event(
                "z9",
                subject="t-1",
                type="seats.reported",
                source="app://a",
                time=at,
                data={"seats": 20},
            ),
            event(
                "a0",
                subject="t-1",
                type="seats.reported",
                source="app://b",
                time=at,
                data={"seats": 30},
            ),
            event(
                "late",
                subject="t-1",
                type="seats.reported",
                source="app://z",
                time="2026-11-10T09:59:59.999999Z",
                data={"seats": 99},
            ),
        ],
    )
    response = usage(api, admin, "acme", meter="seats")
    assert response.status_code == 200, response.text
    # (time, source, id) is greatest for app://b / a1, though it was neither sent last nor
    # has the greatest id
    assert [(b["value"], b["events"]) for b in response.json()["buckets"]] == [("10", 4)]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "0001-01-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}, "from"),
        (
            {"from": "2026-11-01T00:00:00Z", "to": "9999-12-31T23:59:59Z", "tz": "Asia/Kathmandu"},
            "to",
        ),
    ],
)
def test_a_range_beyond_the_calendar_is_422_not_a_crash(
    api: TestClient, admin: dict[str, str], params: dict[str, str], field: str
) -> None:
    put_customer(api, admin, "acme", "America/New_York", ["t-1"])
    post(api, admin, [event("e1", subject="t-1")])
    response = usage(api, admin, "acme", meter="api_calls", window="month", **params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_an_event_before_the_epoch_is_rejected(api: TestClient, admin: dict[str, str]) -> None:
    body = encode([event("ancient", time="0001-01-01T00:00:00Z")])
    result = api.post("/v1/events", content=body, headers={**admin, **BATCH}).json()
    assert [r["reason"] for r in result["rejected"]] == ["time: before 1970-01-01T00:00:00Z"]


def test_numeric_and_string_dimension_values_stay_apart_in_json(
    api: TestClient, admin: dict[str, str]
) -> None:
    put_customer(api, admin, "acme", "UTC", ["t-1"])
    post(
        api,
        admin,
        [
            event("n", subject="t-1", data={"endpoint": Decimal("1.5")}),
            event("s", subject="t-1", data={"endpoint": "1.5"}),
        ],
    )
    body = usage(api, admin, "acme", meter="api_calls", group_by="endpoint").json()
    groups = [(b["group"]["endpoint"], b["value"]) for b in body["buckets"]]
    assert sorted(groups, key=lambda g: type(g[0]).__name__) == [(1.5, "1"), ("1.5", "1")]
    assert (
        '"endpoint":1.5' in usage(api, admin, "acme", meter="api_calls", group_by="endpoint").text
    )


def test_small_values_are_written_in_plain_decimal_notation(
    api: TestClient, admin: dict[str, str]
) -> None:
    put_customer(api, admin, "acme", "UTC", ["t-1"])
    data = {"environment": "production", "model": "m", "tokens": Decimal("0.0000001")}
    post(api, admin, [event("tiny", subject="t-1", type="llm.completion", data=data)])
    body = usage(api, admin, "acme", meter="llm_tokens").json()
    assert [b["value"] for b in body["buckets"]] == ["0.0000001"]
