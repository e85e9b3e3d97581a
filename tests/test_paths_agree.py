"""Every way to screen gives the same verdicts on a tiny bundle: the plain screener, the gated
(cascade) screener the service runs, the `recallguard screen` command line and the HTTP API.

This is the durable form of "a restructure changes no verdict": the paths share one pipeline,
so any drift between them (a second preparation, a copied schema) shows up here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from model.matching.bundle import Bundle
from model.matching.cascade import CascadeScreener, make_screener
from model.matching.screener import Screener
from model.schema import Listing
from training.cli import main as cli


def _key(v: dict[str, Any]) -> tuple[Any, ...]:
    """Decision, matched entry and candidate ids; probabilities are compared to 0.01 apart
    (bf16 embeddings round a little differently with batch shape, and paths batch apart). Every
    path screens with the serving encoder (`Bundle.load`), bf16 where the CPU has it."""
    match = v["match"]["entry_id"] if v.get("match") else None
    return v["decision"], match, tuple(c["entry_id"] for c in v["candidates"])


def _agree(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    assert [_key(v) for v in got] == [_key(v) for v in want]
    assert [v["probability"] for v in got] == pytest.approx(
        [v["probability"] for v in want], abs=0.01
    )


def test_plain_gated_cli_and_service_agree(
    tiny_bundle_path: Path,
    amazon: list[Listing],
    service_client: TestClient,
    tmp_path: Path,
) -> None:
    listings = [
        Listing(title="TooyBing Wooden Bead Stacking Toys", listing_id="recall-1"),
        Listing(title="T00yBing wooden b3ad stacking toy TB-MZWJ", listing_id="recall-2"),
        *(Listing(title=a.title, listing_id=f"amz-{i}", brand=a.brand) for i, a in
          enumerate(amazon[:12])),
    ]  # fmt: skip
    bundle = Bundle.load(tiny_bundle_path)  # as the CLI and the service load it
    plain = [v.to_dict() for v in Screener(bundle).screen(listings)]
    served = make_screener(bundle)
    gated = [v.to_dict() for v in served.screen(listings)]
    assert plain[0]["decision"] in ("block", "review")
    assert plain[0]["match"]["entry_id"] == "cpsc-10917"
    # The gate changes work, never decisions; escalated listings get the full verdict.
    assert [g["decision"] for g in gated] == [p["decision"] for p in plain]
    if isinstance(served, CascadeScreener):
        escalated = [i for i, g in enumerate(gated) if g["candidates"]]  # cleared: none
        assert escalated
        _agree([gated[i] for i in escalated], [plain[i] for i in escalated])

    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps({"title": x.title, "listing_id": x.listing_id,
                                       "brand": x.brand}) + "\n" for x in listings))  # fmt: skip
    assert cli(["screen", "--input", str(src), "--output", str(out),
                "--model", str(tiny_bundle_path)]) == 0  # fmt: skip
    # The command line screens with the service's screener (`make_screener`), gate included.
    _agree([json.loads(line) for line in out.read_text().splitlines()], gated)

    body = [{"title": x.title, "listing_id": x.listing_id, "brand": x.brand} for x in listings]
    r = service_client.post("/screen_batch", json={"listings": body})
    assert r.status_code == 200, r.text
    _agree(r.json(), gated)
    one = service_client.post("/screen", json={"listing": body[1]}).json()
    _agree([one], [gated[1]])
