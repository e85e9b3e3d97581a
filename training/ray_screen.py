"""`recallguard screen --engine ray`: screen whole catalogue files on a Ray cluster (Ray Data).

Per input file, one Ray Data job: ``read_binary_files`` → ``flat_map(parse)`` (rows validated
by the API's own model, each keeping its 1-based line) → ``map_batches(ScreenActor)`` (a pool
of `concurrency` actors with `num_cpus` each; every actor loads the bundle once, from a folder
path it is given, never pickled into a task, and screens with `make_screener`, the screener the
local CLI and the service use) → Parquet in ``DIR/<input name>.parquet/`` (a Parquet dataset
folder) and, with ``--jsonl``, ``DIR/<input name>.jsonl``.

One output row per input row (`OUTPUT_SCHEMA`): a good row carries its verdict in the
``/screen`` shape (``verdict``, JSON text, byte for byte what ``--engine local`` writes) plus
flat ``decision``/``probability`` columns to filter on; a bad row carries ``error`` and its
``line`` and never fails the job. Order is preserved, so a re-run on the same input and bundle
writes the same rows.

Resuming: outputs are written under a temporary name and renamed when the file is done; an
input whose ``.parquet`` folder (and ``.jsonl`` when asked for) exists is skipped. Re-run the
same command after a crash and only unfinished files are screened.

Whole files are read by one task each, so give the cluster many part files (e.g. 1M listings
each: ``split -l 1000000``), not one huge one.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from model.schema import Listing
from training.screen_cli import (
    FIELDS,
    BadRow,
    UsageError,
    csv_record,
    jsonl_listings,
    to_listing,
)

FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
}
LIGHT = {"num_cpus": 0}
OUTPUT_SCHEMA = pa.schema(
    [
        ("source", pa.string()),  # the input file
        ("line", pa.int64()),  # 1-based line (JSONL, CSV: the record's last line) or row (Parquet)
        ("listing_id", pa.string()),
        ("decision", pa.string()),  # block | review | allow; null for an error row
        ("probability", pa.float64()),
        ("model_version", pa.string()),
        ("verdict", pa.string()),  # the /screen response as JSON text; null for an error row
        ("error", pa.string()),  # why the row could not be screened; null when it was
    ]
)


# -- reading: one input file -> rows with their line numbers --------------------------------------
def _row(source: str, line: int, listing: str = "", error: str = "") -> dict[str, Any]:
    return {"source": source, "line": line, "listing": listing, "error": error}


def _as_row(source: str, line: int, checked: Listing | BadRow) -> dict[str, Any]:
    """A listing (as JSON text) or the reason it was refused, as one row."""
    if isinstance(checked, BadRow):
        return _row(source, line, error=checked.message)
    return _row(source, line, listing=json.dumps(checked.to_dict(), ensure_ascii=False))


def _validated(source: str, line: int, record: Any) -> dict[str, Any]:
    """A record checked by the API's own model, as the local CLI checks it (`to_listing`)."""
    return _as_row(source, line, to_listing(record, line))


def _jsonl_rows(source: str, data: bytes) -> Iterator[dict[str, Any]]:
    # The local reader's own parsing (`jsonl_listings`), so lines and reasons are the same.
    for line, checked in jsonl_listings(data.split(b"\n")):
        yield _as_row(source, line, checked)


def _csv_rows(source: str, data: bytes) -> Iterator[dict[str, Any]]:
    text = io.StringIO(data.decode("utf-8-sig", errors="surrogateescape"), newline="")
    header = next(csv.reader(text), None)
    names = [h.strip() for h in header or []]
    unknown = [h for h in names if h not in FIELDS]
    if not names or unknown or "title" not in names:
        why = (
            f"unknown CSV columns {unknown}; expected some of {list(FIELDS)}"
            if unknown
            else "the CSV header has no 'title' column"
        )
        yield _row(source, 1, error=why)
        return
    reader = csv.DictReader(text, fieldnames=names)
    for row in reader:
        record = csv_record(row)
        line = reader.line_num + 1  # +1: the header was read by another reader
        yield (
            _row(source, line, error=record)
            if isinstance(record, str)
            else _validated(source, line, record)
        )


def _parquet_rows(source: str, data: bytes) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError) as exc:
        yield _row(source, 1, error=f"not a readable Parquet file: {exc}")
        return
    for n, record in enumerate(table.to_pylist(), start=1):
        # Null cells are absent fields, as empty CSV cells are.
        yield _validated(source, n, {k: v for k, v in record.items() if v is not None})


@dataclass(frozen=True)
class ParseFile:
    """Ray Data `flat_map`: one binary file row -> one row per listing (or error)."""

    fmt: str

    def __call__(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        source, data = str(item["path"]), bytes(item["bytes"])
        reader = {"jsonl": _jsonl_rows, "csv": _csv_rows, "parquet": _parquet_rows}[self.fmt]
        return list(reader(source, data))


# -- screening: one actor per slot, the bundle loaded once --------------------------------------
class ScreenActor:
    """Ray Data callable class: loads the bundle in `__init__` (once per actor) and screens
    batches of parsed rows into `OUTPUT_SCHEMA` tables."""

    def __init__(self, bundle_path: str, version: str, threads: int) -> None:
        from model.matching.bundle import Bundle
        from model.matching.cascade import make_screener
        from model.matching.encoder import set_threads
        from model.runtime.heap import freeze_loaded

        set_threads(max(1, threads))
        bundle = Bundle.load(Path(bundle_path))
        if bundle.config.version != version:
            raise RuntimeError(
                f"bundle at {bundle_path} is {bundle.config.version}, the driver resolved {version}"
            )
        self.screener = make_screener(bundle)
        freeze_loaded()  # the actor's process holds this bundle for its whole life

    def __call__(self, batch: dict[str, Any]) -> pa.Table:
        from model.schema import Listing

        rows = [
            dict(zip(batch, values, strict=True)) for values in zip(*batch.values(), strict=True)
        ]
        good = [i for i, r in enumerate(rows) if r["listing"]]
        listings = [Listing.from_dict(json.loads(rows[i]["listing"])) for i in good]
        verdicts: dict[int, Any] = {}
        try:
            verdicts = dict(zip(good, self.screener.screen(listings), strict=True))
        except Exception:  # one bad listing must not sink the batch: retry one by one
            for i, listing in zip(good, listings, strict=True):
                try:
                    verdicts[i] = self.screener.screen_one(listing)
                except Exception as exc:
                    rows[i]["error"] = f"screening failed: {type(exc).__name__}: {exc}"
        out: dict[str, list[Any]] = {name: [] for name in OUTPUT_SCHEMA.names}
        for i, row in enumerate(rows):
            verdict = verdicts.get(i)
            listing = json.loads(row["listing"]) if row["listing"] else {}
            out["source"].append(str(row["source"]))
            out["line"].append(int(row["line"]))
            out["listing_id"].append(listing.get("listing_id"))
            out["decision"].append(verdict.decision if verdict else None)
            out["probability"].append(verdict.probability if verdict else None)
            out["model_version"].append(self.screener.version)
            out["verdict"].append(
                json.dumps(verdict.to_dict(), ensure_ascii=False) if verdict else None
            )
            out["error"].append(None if verdict else (row["error"] or "not screened"))
        return pa.Table.from_pydict(out, schema=OUTPUT_SCHEMA)


# -- the cluster --------------------------------------------------------------------------------
def init_ray(address: str | None = None, num_cpus: int | None = None, quiet: bool = False) -> bool:
    """Connect to `address` (or ``RAY_ADDRESS``), else start a local Ray; returns whether this
    call started it (the caller then shuts it down). Never reaches the network: usage stats are
    off and the dashboard is not started for a local instance."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    options: dict[str, Any] = {"log_to_driver": not quiet, "configure_logging": not quiet}
    if address:
        ray.init(address=address, **options)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, **options)
    return True


@dataclass(frozen=True)
class FileResult:
    """What happened to one input file."""

    source: Path
    output: Path
    rows: int
    errors: int
    seconds: float
    skipped: bool = False


def input_files(pattern: str) -> list[Path]:
    """A file, a folder (its JSONL/CSV/Parquet files) or a glob; sorted, at least one."""
    path = Path(pattern)
    if path.is_dir():
        found = [p for p in path.iterdir() if p.suffix.lower() in FORMATS]
    elif path.is_file():
        found = [path]
    else:
        found = [Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file()]
    if not found:
        raise UsageError(f"--input {pattern} matches no file")
    return sorted(found)


def file_format(path: Path, forced: str | None) -> str:
    fmt = forced or FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"cannot tell the format of {path}; use --format jsonl, csv or parquet")
    return fmt


def outputs_for(source: Path, out_dir: Path) -> tuple[Path, Path]:
    """(Parquet dataset folder, JSONL file) for one input file."""
    return out_dir / f"{source.name}.parquet", out_dir / f"{source.name}.jsonl"


def screen_file_ray(
    source: Path,
    out_dir: Path,
    bundle_path: Path,
    version: str,
    fmt: str,
    concurrency: int = 2,
    num_cpus: float = 1.0,
    batch_size: int = 256,
    jsonl: bool = False,
) -> FileResult:
    """Screen one input file into its outputs (written aside, renamed when complete)."""
    import ray.data

    parquet_out, jsonl_out = outputs_for(source, out_dir)
    started = time.perf_counter()
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # the same rows in the same order every run
    ds = (
        # Reading and parsing take no CPU slot: the screening actors may hold every CPU of
        # the cluster, and a read task waiting for one of them would wait forever.
        ray.data.read_binary_files(str(source), include_paths=True, num_cpus=0)
        .flat_map(ParseFile(fmt), num_cpus=0)
        .map_batches(
            ScreenActor,
            fn_constructor_kwargs={
                "bundle_path": str(bundle_path),
                "version": version,
                "threads": max(1, int(num_cpus)),
            },
            compute=ray.data.ActorPoolStrategy(size=concurrency),
            num_cpus=num_cpus,
            batch_size=batch_size,
            batch_format="numpy",
        )
        .materialize()
    )
    tmp = out_dir / f".tmp-{source.name}.parquet"
    shutil.rmtree(tmp, ignore_errors=True)
    ds.write_parquet(str(tmp), ray_remote_args=LIGHT)
    rows = errors = 0
    if jsonl:
        tmp_jsonl = out_dir / f".tmp-{source.name}.jsonl"
        with open(tmp_jsonl, "w", encoding="utf-8") as fh:
            for batch in ds.iter_batches(batch_format="pyarrow", batch_size=4096):
                for row in batch.to_pylist():
                    fh.write(jsonl_line(row) + "\n")
        os.replace(tmp_jsonl, jsonl_out)
    for batch in ds.iter_batches(batch_format="pyarrow", batch_size=65536):
        rows += batch.num_rows
        errors += batch.num_rows - batch.column("error").null_count
    shutil.rmtree(parquet_out, ignore_errors=True)
    os.replace(tmp, parquet_out)
    return FileResult(source, parquet_out, rows, errors, time.perf_counter() - started)


def jsonl_line(row: dict[str, Any]) -> str:
    """A JSONL output line: the /screen verdict with `source` and `line`, or the error."""
    head = {"source": row["source"], "line": row["line"]}
    if row["verdict"] is None:
        return json.dumps(
            {**head, "listing_id": row["listing_id"], "error": row["error"]}, ensure_ascii=False
        )
    return json.dumps({**head, **json.loads(row["verdict"])}, ensure_ascii=False)


def screen_with_ray(
    pattern: str,
    out_dir: Path,
    model: str | None = None,
    fmt: str | None = None,
    concurrency: int = 2,
    num_cpus: float = 1.0,
    batch_size: int = 256,
    jsonl: bool = False,
    address: str | None = None,
    quiet: bool = False,
    err: Any = None,
) -> list[FileResult]:
    """Screen every input file whose outputs do not exist yet; the others are skipped."""
    import ray

    err = err or sys.stderr
    if concurrency < 1 or num_cpus <= 0 or batch_size < 1:
        raise UsageError("--concurrency, --num-cpus and --batch-size must be positive")
    files = input_files(pattern)
    formats = {f: file_format(f, fmt) for f in files}
    out_dir.mkdir(parents=True, exist_ok=True)
    from model.matching.bundle import CONFIG_FILE
    from model.runtime import registry

    # Resolved once here, so every actor loads the very same bundle (a tag such as
    # `recallguard:latest` could move while the job runs).
    bundle_path = registry.resolve(model).resolve()
    version = str(json.loads((bundle_path / CONFIG_FILE).read_text())["version"])
    started = init_ray(address, num_cpus=None, quiet=quiet)
    try:
        import ray.data

        ray.data.DataContext.get_current().enable_progress_bars = not quiet
        results = []
        for source in files:
            parquet_out, jsonl_out = outputs_for(source, out_dir)
            if parquet_out.exists() and (jsonl_out.exists() or not jsonl):
                print(f"{source}: skipped, {parquet_out} exists", file=err)
                results.append(FileResult(source, parquet_out, 0, 0, 0.0, skipped=True))
                continue
            result = screen_file_ray(
                source,
                out_dir,
                bundle_path,
                version,
                formats[source],
                concurrency,
                num_cpus,
                batch_size,
                jsonl,
            )
            results.append(result)
            print(
                f"{source}: {result.rows} rows ({result.errors} errors) in "
                f"{result.seconds:.1f} s -> {result.output}",
                file=err,
            )
        return results
    finally:
        if started:
            ray.shutdown()


def cmd_screen_ray(args: Any) -> int:
    """The `--engine ray` branch of `recallguard screen`: exit 0 when every row was screened,
    1 when some rows are error rows, 2 for a usage error."""
    results = screen_with_ray(
        args.input,
        Path(args.output),
        model=args.model,
        fmt=args.format,
        concurrency=args.concurrency,
        num_cpus=args.num_cpus,
        batch_size=args.batch_size or 256,
        jsonl=args.jsonl,
        address=args.address,
        quiet=args.quiet,
    )
    done = [r for r in results if not r.skipped]
    rows, errors = sum(r.rows for r in done), sum(r.errors for r in done)
    seconds = sum(r.seconds for r in done)
    rate = rows / seconds if seconds else 0.0
    print(
        f"screened {rows} rows from {len(done)} files ({len(results) - len(done)} skipped) in "
        f"{seconds:.1f} s ({rate:.1f} listings/s); {errors} error rows"
    )
    return 1 if errors else 0
