"""`recallguard catalog index|sweep|info`: register the live catalogue and sweep it by hand.

The service sweeps on its own whenever an entry is added; these commands are for loading a
catalogue in bulk (millions of listings are better embedded here than over HTTP) and for
re-running a sweep from a shell.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from model.matching.bundle import Bundle
from model.matching.normalise import normalise
from model.matching.vector_index import DEFAULT_NPROBE, IndexSpec
from model.runtime.catalog import DB_FILE, Catalog, encoder_fingerprint
from model.schema import Listing
from model.settings import Settings

BATCH = 512


def catalog_root() -> Path:
    return Settings.from_env().data_home / "catalog"


def read_listings(path: Path) -> Iterator[Listing]:
    """JSONL of listing objects, a CSV with listing columns, or the bundled Amazon sample."""
    from training.importers.common import ImportFileError, csv_rows, read_text

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    text = read_text(path)
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        for n, raw in enumerate(text.splitlines(), start=1):
            if raw.strip():
                try:
                    yield _listing(json.loads(raw))
                except (ValueError, TypeError) as exc:
                    raise ImportFileError(path, [f"line {n}: {exc}"]) from None
        return
    header, rows = csv_rows(path, text)
    if "uniq_id" in header and "product_name" in header:
        from training.loaders import load_amazon_listings

        yield from load_amazon_listings(path)
        return
    for line, row in rows:
        data: dict[str, object] = {k: v for k, v in row.items() if v != ""}
        try:
            if "price" in data:
                data["price"] = float(str(data["price"]))
            if "identifiers" in data:
                data["identifiers"] = [i for i in str(data["identifiers"]).split(";") if i]
            yield _listing(data)
        except (ValueError, TypeError) as exc:
            raise ImportFileError(path, [f"line {line}: {exc}"]) from None


def _listing(data: object) -> Listing:
    if isinstance(data, dict) and not isinstance(data.get("identifiers", []), list):
        raise ValueError("identifiers must be a list of strings")
    listing = Listing.from_dict(data)  # type: ignore[arg-type]
    if not listing.listing_id:
        raise ValueError("listing_id is required in the catalogue")
    return listing


def _load_bundle(ref: str | None) -> tuple[Path, Bundle]:
    from model.runtime.registry import resolve

    path = resolve(ref)
    return path, Bundle.load(path)


def cmd_index(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    path, bundle = _load_bundle(args.bundle)
    catalog = Catalog(catalog_root(), bundle.encoder.dim, encoder_fingerprint(path))
    added = updated = same = 0
    batch: list[Listing] = []
    progress = tqdm(desc="listings", unit=" listings", disable=not sys.stderr.isatty())

    def flush() -> None:
        nonlocal added, updated, same
        fresh = [x for x, s in zip(batch, catalog.unchanged(batch), strict=True) if not s]
        result = catalog.add(fresh, bundle.encoder.encode([normalise(x.text()) for x in fresh]))
        added, updated = added + result.added, updated + result.updated
        same += len(batch) - len(fresh) + result.unchanged
        progress.update(len(batch))
        batch.clear()

    for listing in read_listings(args.file):
        batch.append(listing)
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    progress.close()
    spec = catalog.checkpoint(IndexSpec("ivf", args.nlist, args.nprobe) if args.nlist else None)
    print(
        f"catalogue: {added} added, {updated} updated, {same} unchanged; {len(catalog)} live "
        f"listings, index {spec.kind}"
        + (f" (nlist {spec.nlist}, nprobe {spec.nprobe})" if spec.kind == "ivf" else "")
    )
    return 0


def cmd_shard(args: argparse.Namespace) -> int:
    """Build the registered catalogue into `--shards` FAISS shard files on Ray (Ray Data)."""
    import ray

    from model.matching.vector_index import IndexSpec
    from model.runtime.shards import CatalogSource, build_shards
    from training.ray_screen import init_ray

    if not (catalog_root() / DB_FILE).exists():
        raise LookupError("no catalogue is registered; run `recallguard catalog index FILE`")
    if args.shards < 1:
        raise ValueError(f"--shards must be at least 1, got {args.shards}")
    path, bundle = _load_bundle(args.bundle)
    catalog = Catalog(catalog_root(), bundle.encoder.dim, encoder_fingerprint(path))
    spec = (
        IndexSpec(args.kind, args.nlist, args.nprobe, args.pq_m if args.kind == "ivfpq" else 0)
        if args.nlist
        else None
    )
    out = Path(args.out) if args.out else catalog_root() / "shards"
    started = init_ray(args.address)
    try:
        manifest = build_shards(
            CatalogSource(str(catalog.root), catalog.dim), out, args.shards, spec
        )
    finally:
        if started:
            ray.shutdown()
    for s in manifest.shards:
        print(
            f"  {s.file}: {s.vectors} vectors, {s.kind} (nlist {s.nlist}), "
            f"{s.bytes / 2**20:.1f} MiB, built in {s.build_s} s"
        )
    print(
        f"{manifest.vectors} listings (up to write {manifest.seq}) in {len(manifest.shards)} "
        f"shards under {out}"
    )
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from model.runtime.blocklist_store import BlocklistStore
    from model.runtime.live_blocklist import LiveBlocklist
    from model.runtime.sweep_log import SweepLog
    from service.review import ReviewConfig, ReviewQueue

    if not (catalog_root() / DB_FILE).exists():
        raise LookupError("no catalogue is registered; run `recallguard catalog index FILE`")
    path, bundle = _load_bundle(args.bundle)
    live = LiveBlocklist(bundle, BlocklistStore(Settings.from_env().data_home / "blocklist"))
    screener = live.screener
    index = screener.bundle.index
    position = index.position(args.entry_id)
    if position is None:
        raise LookupError(f"{args.entry_id} is not in the served blocklist")
    catalog = Catalog(catalog_root(), bundle.encoder.dim, encoder_fingerprint(path))
    log = SweepLog(catalog_root() / "sweeps.sqlite3")
    queue = ReviewQueue.from_config(ReviewConfig.from_env())
    sweep_id = log.claim(index.entries[position], force=True)
    assert sweep_id is not None
    sharded, started = None, False
    if args.sharded:  # search shard actors on Ray instead of the local index
        from model.runtime.shards import ShardedIndex
        from training.ray_screen import init_ray

        started = init_ray(args.address)
        sharded = ShardedIndex(Path(args.sharded))
    try:
        record = log.run(
            sweep_id,
            screener,
            catalog,
            args.entry_id,
            lambda hit: queue.enqueue(hit.listing, hit.verdict)[0],
            k=args.k,
            index=sharded,
        )
    finally:
        if sharded is not None:
            sharded.close()
        if started:
            import ray

            ray.shutdown()
    if args.json:
        print(json.dumps(record.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print(
        f"sweep {record.sweep_id} for {record.entry_id}: {record.candidates} candidates of "
        f"{record.catalogue_size} listings; {record.blocks} block, {record.reviews} review "
        f"(search {record.search_ms} ms, scoring {record.score_ms} ms)"
    )
    for hit in record.hits:
        item = f" -> review item {hit.review_item_id}" if hit.review_item_id else ""
        title = str(hit.listing.get("title", ""))[:70]
        print(f"  {hit.decision:<6} p={hit.probability:.3f} {hit.listing_id:<20} {title}{item}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    root = catalog_root()
    if not (root / DB_FILE).exists():
        print("no catalogue is registered")
        return 0
    pointer = root / "index.json"
    info = json.loads(pointer.read_text()) if pointer.exists() else {}
    import sqlite3

    with sqlite3.connect(root / DB_FILE) as db:
        live = db.execute("SELECT count(*) FROM listings WHERE active = 1").fetchone()[0]
    print(f"{root}: {live} live listings; index {info or 'not checkpointed yet'}")
    return 0


def register_catalog(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("catalog", help="the live catalogue and retroactive sweeps")
    sub = p.add_subparsers(dest="catalog_command", required=True)

    q = sub.add_parser("index", help="add or update live listings (JSONL or CSV)")
    q.add_argument("file", type=Path)
    q.add_argument("--bundle", default=None)
    q.add_argument("--nlist", type=int, default=0, help="force an IVF index with N lists")
    q.add_argument("--nprobe", type=int, default=DEFAULT_NPROBE, help="IVF lists per query")
    q.set_defaults(func=cmd_index)

    q = sub.add_parser("sweep", help="sweep the catalogue for one blocklist entry now")
    q.add_argument("entry_id")
    q.add_argument("--bundle", default=None)
    q.add_argument("--k", type=int, default=100, help="nearest listings per entry text")
    q.add_argument("--json", action="store_true")
    q.add_argument("--sharded", default=None, help="shard folder: search its actors on Ray")
    q.add_argument(
        "--address", default=None, help="Ray cluster (default: $RAY_ADDRESS, else local)"
    )
    q.set_defaults(func=cmd_sweep)

    q = sub.add_parser("shard", help="build the catalogue into FAISS shards in parallel on Ray")
    q.add_argument("--shards", type=int, default=2, help="number of shards (one actor each)")
    q.add_argument("--out", default=None, help="shard folder (default: <catalogue>/shards)")
    q.add_argument("--bundle", default=None)
    q.add_argument("--kind", choices=("ivf", "ivfpq"), default="ivf", help="with --nlist")
    q.add_argument("--nlist", type=int, default=0, help="IVF lists per shard (default: by size)")
    q.add_argument("--nprobe", type=int, default=DEFAULT_NPROBE, help="IVF lists per query")
    q.add_argument("--pq-m", type=int, default=48, help="IVF-PQ bytes per vector")
    q.add_argument(
        "--address", default=None, help="Ray cluster (default: $RAY_ADDRESS, else local)"
    )
    q.set_defaults(func=cmd_shard)

    q = sub.add_parser("info", help="how many listings, which index")
    q.set_defaults(func=cmd_info)
