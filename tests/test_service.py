"""The HTTP API through the service's own ASGI app: answers, readiness, and every bad input."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

import model.matching.normalise as normalise_module
import model.matching.views as views_module
from model.matching.cascade import GateStage, bundle_gate_threshold
from model.matching.screener import Screener
from model.runtime.batch_queue import BatchQueue, Overloaded
from model.schema import MAX_TITLE_CHARS
from model.settings import Settings
from service.schemas import MAX_BATCH

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def client(service_client: TestClient) -> TestClient:
    return service_client


def screen(client: TestClient, listing: object) -> tuple[int, dict]:
    r = client.post("/screen", json={"listing": listing})
    return r.status_code, r.json()


def test_ready_and_docs(client: TestClient) -> None:
    assert client.get("/readyz").status_code == 200
    spec = client.get("/docs.json").json()
    assert "/screen" in spec["paths"] and "/screen_batch" in spec["paths"]
    page = client.get("/")
    assert page.status_code == 200 and "swagger" in page.text.lower()


def test_real_recall_is_blocked_or_reviewed(client: TestClient) -> None:
    status, body = screen(
        client, {"title": "TooyBing Wooden Bead Stacking Toys", "listing_id": "x1"}
    )
    assert status == 200
    assert body["decision"] in ("block", "review")
    assert body["match"]["entry_id"] == "cpsc-10917"
    assert body["match"]["url"].startswith("https://www.cpsc.gov/")
    assert body["listing_id"] == "x1"
    assert set(body["thresholds"]) == {"block", "review"}


def test_unrelated_listing_is_allowed(client: TestClient) -> None:
    status, body = screen(
        client,
        {
            "title": "Schleich Tinker Mare",
            "brand": "Schleich",
            "category": "Figures & Playsets > Farm & Animals",
            "price": 5.99,
        },
    )
    assert status == 200
    assert body["decision"] == "allow" and body["match"] is None


def test_batch_keeps_order(client: TestClient) -> None:
    listings = [
        {"title": "Hornby 2014 Catalogue", "listing_id": "a"},
        {"title": "TooyBing Wooden Bead Stacking Toys", "listing_id": "b"},
    ]
    r = client.post("/screen_batch", json={"listings": listings})
    assert r.status_code == 200
    assert [v["listing_id"] for v in r.json()] == ["a", "b"]


@pytest.mark.parametrize(
    "listing",
    [
        {},  # missing title
        {"title": ""},  # empty
        {"title": "   "},  # blank
        {"title": 42},  # wrong type
        {"title": "ok", "price": "cheap"},
        {"title": "ok", "price": -1},
        {"title": "ok", "identifiers": "B0CB9WV7XN"},
        {"title": "x" * (MAX_TITLE_CHARS + 1)},  # over the limit
        {"title": "ok", "seller_password": "hunter2"},  # unknown field
        "just a string",
        None,
    ],
)
def test_bad_listing_is_a_4xx_with_a_message(client: TestClient, listing: object) -> None:
    r = client.post("/screen", json={"listing": listing})
    assert 400 <= r.status_code < 500, r.text
    assert "error" in r.json()
    assert "hunter2" not in r.text


def test_bad_bodies_are_4xx(client: TestClient) -> None:
    assert 400 <= client.post("/screen", json={}).status_code < 500
    r = client.post(
        "/screen",
        content=b'{"listing": {"title": "\xff\xfe bad"}}',
        headers={"content-type": "application/json"},
    )
    assert 400 <= r.status_code < 500, r.text
    r = client.post("/screen", content=b"{not json", headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, r.text


def test_batch_limits(client: TestClient) -> None:
    too_many = [{"title": f"toy {i}"} for i in range(MAX_BATCH + 1)]
    assert 400 <= client.post("/screen_batch", json={"listings": too_many}).status_code < 500
    assert 400 <= client.post("/screen_batch", json={"listings": []}).status_code < 500
    bad_item = [{"title": "fine"}, {"title": ""}]
    assert 400 <= client.post("/screen_batch", json={"listings": bad_item}).status_code < 500


# -- issue 11: every edge holds ----------------------------------------------------------------
def post_raw(client: TestClient, url: str, raw: str, ctype: str = "application/json") -> Any:
    return client.post(url, content=raw.encode(), headers={"content-type": ctype})


@pytest.mark.parametrize("url", ["/screen", "/screen_batch"])
@pytest.mark.parametrize(
    "listing",
    [
        '{"title": "\\u001f"}',
        '{"title": "\\u001c\\u001d\\u001e"}',
        '{"title": "Plush bear \\ud83d"}',
        '{"title": "Wooden toy", "price": 1e999}',
        '{"title": "Wooden toy", "price": NaN}',
        '{"title": "Wooden toy", "price": -Infinity}',
    ],
)
def test_hostile_listing_is_400_with_the_documented_shape(
    client: TestClient, url: str, listing: str
) -> None:
    body = f'{{"listing": {listing}}}' if url == "/screen" else f'{{"listings": [{listing}]}}'
    r = post_raw(client, url, body)
    assert r.status_code == 400, r.text
    data = r.json()
    assert isinstance(data["error"], str) and isinstance(data["detail"], str), data


@pytest.mark.parametrize("url", ["/screen", "/screen_batch", "/model_info"])
@pytest.mark.parametrize(
    "ctype", ["multipart/form-data", "multipart/form-data; boundary=xyz", "text/plain"]
)
def test_unsupported_content_type_is_415(client: TestClient, url: str, ctype: str) -> None:
    body = '--xyz\r\nContent-Disposition: form-data; name="listing"\r\n\r\nx\r\n--xyz--\r\n'
    r = post_raw(client, url, body, ctype)
    assert r.status_code == 415, r.text
    assert isinstance(r.json()["error"], str)


def test_deep_json_is_400(client: TestClient) -> None:
    r = post_raw(client, "/screen", '{"listing": ' + "[" * 1000 + "]" * 1000 + "}")
    assert r.status_code == 400, r.text


def full_batch(size: int) -> bytes:
    """A MAX_BATCH-listing /screen_batch body of exactly `size` bytes: long descriptions fill it."""
    listings = [
        {"listing_id": f"b{i}", "title": f"Wooden stacking toy no. {i}", "description": ""}
        for i in range(MAX_BATCH)
    ]
    listings[0]["title"] = "TooyBing Wooden Bead Stacking Toys"
    extra = size - len(json.dumps({"listings": listings}).encode())
    words = "Solid beech wood, smooth edges, water-based paint, for ages 3 and up. " * 400
    for i, listing in enumerate(listings):
        listing["description"] = words[: extra // MAX_BATCH + (i < extra % MAX_BATCH)]
    body = json.dumps({"listings": listings}).encode()
    assert len(body) == size
    return body


def test_a_full_batch_just_under_the_body_limit_is_screened(client: TestClient) -> None:
    limit = Settings.from_env().max_body_bytes
    r = client.post("/screen_batch", content=full_batch(limit - 1), headers=JSON)
    assert r.status_code == 200, r.text[:500]
    verdicts = r.json()
    assert [v["listing_id"] for v in verdicts] == [f"b{i}" for i in range(MAX_BATCH)]
    assert verdicts[0]["decision"] in ("block", "review")
    assert verdicts[0]["match"]["entry_id"] == "cpsc-10917"


def test_a_body_over_the_limit_is_413_before_it_is_parsed(client: TestClient) -> None:
    limit = Settings.from_env().max_body_bytes
    body = full_batch(limit + 1)
    declared = client.post("/screen_batch", content=body, headers=JSON)
    streamed = client.post(
        "/screen_batch", content=iter([body[:limit], body[limit:]]), headers=JSON
    )
    for r in (declared, streamed):
        assert r.status_code == 413, r.text[:500]
        data = r.json()
        assert set(data) == {"error", "detail"} and f"{limit:,} bytes" in data["error"]


def test_one_bad_request_in_a_merged_batch_fails_only_itself(client: TestClient) -> None:
    good = {"listings": [{"title": f"Wooden stacking toy {i}"} for i in range(4)]}
    bad = '{"listings": [{"title": "\\u001f"}]}'

    def call(i: int) -> int:
        if i % 3 == 0:
            return int(post_raw(client, "/screen_batch", bad).status_code)
        return int(client.post("/screen_batch", json=good).status_code)

    with ThreadPoolExecutor(max_workers=9) as pool:
        statuses = list(pool.map(call, range(9)))
    assert statuses == [400 if i % 3 == 0 else 200 for i in range(9)], statuses


def test_spec_matches_the_answers(client: TestClient) -> None:
    spec = client.get("/docs.json").json()
    out = spec["paths"]["/screen"]["post"]["responses"]["200"]["content"]["application/json"]
    props = out["schema"]["properties"]
    assert props["match"]["nullable"] is True and props["match"]["type"] == "object"
    assert props["review_item_id"]["nullable"] is True
    allowed = client.post("/screen", json={"listing": {"title": "Schleich Tinker Mare"}}).json()
    assert allowed["decision"] == "allow" and allowed["match"] is None
    assert allowed["review_item_id"] is None
    error = spec["components"]["schemas"]["InvalidArgument"]["properties"]
    assert error["detail"]["type"] == "string"
    bad = client.post("/screen", json={"listing": {"title": ""}}).json()
    assert isinstance(bad["detail"], str)


def test_verdict_schema_has_one_source() -> None:
    from dataclasses import fields

    from model.matching.verdict import Verdict
    from service.schemas import VerdictOut

    assert list(VerdictOut.model_fields) == [f.name for f in fields(Verdict)] + ["review_item_id"]


def test_redirects_are_relative(client: TestClient) -> None:
    r = client.get("/review", headers={"host": "evil.example"}, follow_redirects=False)
    assert 300 <= r.status_code < 400
    assert r.headers["location"] == "/review/", r.headers["location"]


def test_screen_key_is_opt_in(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from service.auth import KeyStore

    store = KeyStore.from_env()
    screen_key = store.create_key("screen", "platform-edge-test")
    reviewer_key = store.create_key("reviewer", "rita-edge-test")
    body = {"listing": {"title": "Schleich Tinker Mare"}}
    assert client.post("/screen", json=body).status_code == 200  # off by default
    monkeypatch.setenv("RECALLGUARD_REQUIRE_SCREEN_KEY", "true")
    assert client.post("/screen", json=body).status_code == 401
    assert client.post("/screen_batch", json={"listings": [body["listing"]]}).status_code == 401
    as_reviewer = {"Authorization": f"Bearer {reviewer_key}"}
    assert client.post("/screen", json=body, headers=as_reviewer).status_code == 403
    ok = client.post("/screen", json=body, headers={"X-API-Key": screen_key})
    assert ok.status_code == 200, ok.text


def test_dev_key_goes_to_a_private_file_not_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import stat

    from model.settings import Settings
    from service.worker import open_keys

    monkeypatch.setenv("RECALLGUARD_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("RECALLGUARD_KEYS_FILE", raising=False)
    monkeypatch.delenv("RECALLGUARD_API_KEYS", raising=False)
    with caplog.at_level(logging.INFO):
        open_keys(Settings.from_env())  # what the service runs at start-up
    path = tmp_path / "dev-admin.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text().strip()
    assert key.startswith("rg_") and key not in caplog.text
    assert str(path) in caplog.text  # the log names the file, never the key


def test_review_database_is_private(client: TestClient) -> None:
    import os
    import stat

    review_db = Path(os.environ["RECALLGUARD_DATA_HOME"]) / "review.sqlite3"
    assert stat.S_IMODE(review_db.stat().st_mode) == 0o600


# Schemathesis over the service's own OpenAPI spec: no 5xx, every answer as documented. Requests
# go through the module's TestClient: BentoML's batching dispatcher is bound to its event loop.
@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize("path", ["/screen", "/screen_batch", "/model_info"])
def test_schemathesis_screening_api(client: TestClient, path: str, mode: str) -> None:
    schema = schemathesis.openapi.from_dict(client.get("/docs.json").json())
    strategy = schema[path]["POST"].as_strategy(GenerationMode(mode))

    @given(case=strategy)
    @settings(
        max_examples=25, deadline=None, suppress_health_check=list(HealthCheck),
        derandomize=True, database=None,
    )  # fmt: skip
    def run(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        body = kwargs.pop("data", None)
        response = client.request(
            kwargs["method"], kwargs["url"], headers=kwargs.get("headers"),
            params=kwargs.get("params"), json=kwargs.get("json"), content=body,
        )  # fmt: skip
        case.validate_response(response, checks=CHECKS)

    run()


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
]


def test_screen_and_screen_batch_run_the_factory_screener(
    client: TestClient, tiny_bundle_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 12: /screen and /screen_batch screen with make_screener's gated pipeline (the other
    # entry points are checked in tests/test_entry_points.py).
    from model.matching.bundle import Bundle

    threshold = bundle_gate_threshold(Bundle.load(tiny_bundle_path))
    assert threshold is not None
    seen: list[Screener] = []
    original = Screener.candidate_sets

    def spy(self: Screener, listings: Any) -> Any:
        seen.append(self)
        return original(self, listings)

    monkeypatch.setattr(Screener, "candidate_sets", spy)
    listing = {"title": "TooyBing Wooden Bead Stacking Toys"}
    assert client.post("/screen", json={"listing": listing}).status_code == 200
    r = client.post("/screen_batch", json={"listings": [listing, {"title": "Lego Duplo Zoo"}]})
    assert r.status_code == 200 and len(r.json()) == 2
    assert len(seen) >= 2
    assert all(isinstance(s.gate, GateStage) and s.gate.threshold == threshold for s in seen)


def test_screen_batch_overload_is_a_clear_503_with_retry_after(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(self: Any, items: Any) -> Any:
        raise Overloaded(queued=2816, retry_after=7)

    monkeypatch.setattr(BatchQueue, "submit", full)
    r = client.post("/screen_batch", json={"listings": [{"title": "wooden train set"}]})
    assert r.status_code == 503
    assert r.headers["retry-after"] == "7"
    assert "2816 listings queued" in r.json()["error"] and "retry in 7 s" in r.json()["error"]
    assert "unexpected" not in r.text


ONCE = {
    "title": "TooyBing Wooden Bead Stacking Toys for babies",
    "brand": "TooyBing",
    "description": "Colourful beads on a wire frame. Model TB-MZWJ.",
    "category": "Baby & Toddler Toys > Activity Centres",
    "listing_id": "once",
}


def test_screen_prepares_each_listing_once_and_each_field_once(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.post("/screen", json={"listing": ONCE}).status_code == 200  # warm
    folded: Counter[str] = Counter()
    views: list[Any] = []
    gate_views: list[Any] = []

    def count_fold(text: str) -> str:
        folded[text] += 1
        return original_fold(text)

    original_fold = normalise_module.fold
    # Every fold: the views' own calls and those inside normalise()/tokens().
    monkeypatch.setattr(normalise_module, "fold", count_fold)
    monkeypatch.setattr(views_module, "fold", count_fold)
    original_of = views_module.ListingView.of.__func__  # type: ignore[attr-defined]

    def count_of(cls: Any, listing: Any, known_ids: Any = frozenset()) -> Any:
        view = original_of(cls, listing, known_ids)
        views.append(view)
        return view

    monkeypatch.setattr(views_module.ListingView, "of", classmethod(count_of))
    original_passes = GateStage.passes

    def count_passes(self: GateStage, prepared: Any) -> Any:
        gate_views.extend(prepared)
        return original_passes(self, prepared)

    monkeypatch.setattr(GateStage, "passes", count_passes)

    # Brand and category are normalised once per distinct value (a cache): start it empty.
    views_module._field_words.cache_clear()
    views_module._field_text.cache_clear()
    r = client.post("/screen", json={"listing": ONCE})
    assert r.status_code == 200, r.text
    assert r.json()["listing_id"] == "once"
    assert len(views) == 1, "the listing was prepared more than once"
    assert gate_views == views, "the gate did not read the one prepared view"
    # Each field folded exactly once (the title with its brand, as it is embedded).
    assert folded == Counter(
        {ONCE["title"]: 1, ONCE["description"]: 1, ONCE["brand"]: 1,
         ONCE["category"]: 1}
    )  # fmt: skip


# A listing with every field set, and the rule calls that checking it once makes
# (model.schema.Listing.__post_init__: one per field and one per identifier).
CHECKED = {**ONCE, "listing_id": "checked", "price": 12.5, "identifiers": ["TB-MZWJ", "B0CB9WV7"]}
RULE_CALLS = Counter(
    {"title": 1, "listing_id": 1, "description": 1, "brand": 1, "category": 1, "price": 1,
     "identifiers": 1, "identifiers[0]": 1, "identifiers[1]": 1}
)  # fmt: skip


def _spy_on_the_listing_rules(monkeypatch: pytest.MonkeyPatch, *, permissive: bool) -> Counter[str]:
    """Count every call of the listing's rule functions by field name, and the dataclass checks
    themselves as ``__post_init__``. With `permissive` the rules accept anything, so whatever
    still refuses a listing is a second validation."""
    import model.schema as schema
    import model.validation as validation

    calls: Counter[str] = Counter()
    real_post_init = schema.Listing.__post_init__
    real_text, real_number, real_list = (
        validation.clean_text, validation.finite_number, validation.string_list
    )  # fmt: skip

    def post_init(self: Any) -> None:
        calls["__post_init__"] += 1
        real_post_init(self)

    def clean_text(value: Any, name: str, **kw: Any) -> Any:
        calls[name] += 1
        return value if permissive else real_text(value, name, **kw)

    def finite_number(value: Any, name: str, **kw: Any) -> Any:
        calls[name] += 1
        return value if permissive else real_number(value, name, **kw)

    def string_list(value: Any, name: str, **kw: Any) -> Any:
        calls[name] += 1
        if permissive:
            for i, v in enumerate(value):
                clean_text(v, f"{name}[{i}]")
            return tuple(value)
        return real_list(value, name, **kw)

    monkeypatch.setattr(schema.Listing, "__post_init__", post_init)
    for module in (schema, validation):  # model.schema's names, and string_list's clean_text
        monkeypatch.setattr(module, "clean_text", clean_text)
    monkeypatch.setattr(schema, "finite_number", finite_number)
    monkeypatch.setattr(schema, "string_list", string_list)
    return calls


@pytest.mark.parametrize("route", ["/screen", "/screen_batch"])
def test_screen_validates_each_listing_once_and_each_field_once(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    calls = _spy_on_the_listing_rules(monkeypatch, permissive=False)
    body = {"listing": CHECKED} if route == "/screen" else {"listings": [CHECKED, CHECKED]}
    r = client.post(route, json=body)
    assert r.status_code == 200, r.text
    per_listing = 1 if route == "/screen" else 2
    assert calls.pop("__post_init__") == per_listing, "the listing was checked more than once"
    assert calls == Counter({k: n * per_listing for k, n in RULE_CALLS.items()})


def test_the_listing_rules_are_the_only_validation_on_screen(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Over every documented limit (title, brand, identifiers) and below the price minimum: with
    # the rules switched off nothing else may refuse it; pydantic only parses the shape.
    over = {
        "title": "Wooden bead stacking toy " + "x" * MAX_TITLE_CHARS,
        "brand": "b" * 201,
        "price": -1.0,
        "identifiers": [f"ID{i:03d}" for i in range(50)] + ["Z" * 65],
    }
    refused = {
        "title": "title is 5025 characters; at most 5000 are accepted",
        "brand": "brand is 201 characters; at most 200 are accepted",
        "price": "price must be at least 0, got -1.0",
        "identifiers": "identifiers has 51 items; at most 50 are accepted",
    }
    for name, message in refused.items():  # each alone is refused by the rules, clearly
        r = client.post("/screen", json={"listing": {"title": "Wooden toy", name: over[name]}})
        assert r.status_code == 400 and message in r.json()["error"], r.text
        assert "Value error" not in r.text
    calls = _spy_on_the_listing_rules(monkeypatch, permissive=True)
    r = client.post("/screen", json={"listing": over})
    assert r.status_code == 200, r.text
    assert calls["__post_init__"] == 1 and calls["title"] == calls["price"] == 1
    assert calls["identifiers"] == 1 and calls["identifiers[50]"] == 1


def test_decisions_and_stage_latency_are_counted(client: TestClient) -> None:
    from prometheus_client import REGISTRY

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = value("recallguard_decisions_total", decision="allow")
    model = value("recallguard_screen_stage_seconds_count", stage="model")
    batch = value("recallguard_screen_stage_seconds_count", stage="screen_batch")
    status, body = screen(client, {"title": "Schleich Tinker Mare", "brand": "Schleich"})
    assert status == 200 and body["decision"] == "allow"
    listings = [{"title": "Schleich Tinker Mare"}, {"title": "Schleich Horse Club Sarah"}]
    assert client.post("/screen_batch", json={"listings": listings}).status_code == 200
    assert value("recallguard_decisions_total", decision="allow") >= before + 2
    assert value("recallguard_screen_stage_seconds_count", stage="model") >= model + 2
    assert value("recallguard_screen_stage_seconds_count", stage="screen_batch") >= batch + 1
