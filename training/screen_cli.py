"""`recallguard screen`: screen a JSONL or CSV file of listings offline, one verdict per line.

Rows are validated by the very pydantic model the HTTP API uses (`service.schemas.ListingIn`),
and screened by the same `Screener` the service runs, so a file screened here gets the answers
the API would give. A bad row is reported on stderr with its line number and skipped; the output
then has no line for it (match verdicts to input by `listing_id`). Exit status: 0 when every
row was screened, 1 when some rows were skipped, 2 for a usage error (missing file, unknown
format, bad CSV header, unknown model).
"""

from __future__ import annotations

import argparse
import codecs
import csv
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import ValidationError

from model.matching.verdict import DECISIONS
from model.schema import Listing
from model.validation import loads
from service.schemas import ListingIn
from training.screen_pool import BatchRunner, InProcess, ScreenPool, usable_cores

if TYPE_CHECKING:  # the screener pulls in torch and scikit-learn: only when a run starts
    from model.matching.screener import Screener

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv"}
FIELDS = tuple(ListingIn.model_fields)
_ID_SPLIT = re.compile(r"[;|]")
_BAD_UTF8 = re.compile("[\udc80-\udcff]")


class UsageError(ValueError):
    """A problem with the command line or the file as a whole: one line, exit status 2."""


@dataclass(frozen=True)
class BadRow:
    """A row that could not be screened, with the 1-based line it starts on."""

    line: int
    message: str


@dataclass(frozen=True)
class ScreenSummary:
    """What a run did: verdict counts by decision, rows skipped, and how fast it went."""

    decisions: dict[str, int]
    bad_rows: list[BadRow]
    seconds: float

    @property
    def screened(self) -> int:
        return sum(self.decisions.values())

    @property
    def per_second(self) -> float:
        return self.screened / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        counts = ", ".join(f"{d} {self.decisions.get(d, 0)}" for d in DECISIONS)
        text = (
            f"screened {self.screened} listings in {self.seconds:.1f} s "
            f"({self.per_second:.1f} listings/s): {counts}"
        )
        if self.bad_rows:
            text += f"; skipped {len(self.bad_rows)} bad rows (reported above)"
        return text


def _errors(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "listing"
        if where == "title" and err["type"] == "missing":
            parts.append("title is missing")
        elif err["type"] == "extra_forbidden":
            parts.append(f"unknown field {where!r} (expected some of {', '.join(FIELDS)})")
        elif err["type"] == "value_error":  # the `Listing` checks: the message names the field
            parts.append(str(err.get("ctx", {}).get("error", err["msg"])))
        else:
            parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def to_listing(record: Any, line: int) -> Listing | BadRow:
    """Validate one record exactly as the API does."""
    if not isinstance(record, dict):
        return BadRow(line, f"a listing must be a JSON object, got {type(record).__name__}")
    try:
        return ListingIn.model_validate(record).to_listing()
    except ValidationError as exc:
        return BadRow(line, _errors(exc))
    except ValueError as exc:  # model.schema.ValidationError from the dataclass checks
        return BadRow(line, str(exc))


def jsonl_listings(lines: Iterable[bytes]) -> Iterator[tuple[int, Listing | BadRow]]:
    """(line, listing or why not) per non-blank line of raw JSONL bytes, from 1; blank lines are
    ignored, not errors. A UTF-8 byte-order mark at the start is skipped (editors on Windows
    write one), and each line is parsed by the shared strict rules (`model.validation.loads`:
    finite numbers, bounded depth). The local reader and the Ray engine both read through this.
    """
    for line, raw in enumerate(lines, start=1):
        if line == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield line, BadRow(line, "line is not valid UTF-8")
            continue
        try:
            record = loads(text, "line")
        except ValueError as exc:
            yield line, BadRow(line, f"bad JSON: {exc}")
            continue
        yield line, to_listing(record, line)


def read_jsonl(path: Path) -> Iterator[Listing | BadRow]:
    """The listings of a JSONL file (`jsonl_listings`)."""
    with open(path, "rb") as fh:
        for _, checked in jsonl_listings(fh):
            yield checked


def _open_csv(path: Path) -> TextIO:
    # Invalid bytes survive as lone surrogates so the row that holds them can be reported.
    return open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")


def csv_header(path: Path) -> list[str]:
    """The header row, checked against the API's fields before any model is loaded."""
    with _open_csv(path) as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise UsageError(f"{path}: the CSV file is empty; it needs a header row with 'title'")
    names = [h.strip() for h in header]
    unknown = [h for h in names if h not in FIELDS]
    if unknown:
        raise UsageError(f"{path}: unknown CSV columns {unknown}; expected some of {list(FIELDS)}")
    if "title" not in names:
        raise UsageError(f"{path}: the CSV header has no 'title' column")
    return names


def csv_record(row: dict[str | None, Any]) -> dict[str, Any] | str:
    """A CSV row as an API record (empty cells left out), or why it cannot be one."""
    if row.get(None):
        return f"the row has {len(row[None])} more cells than the header"
    record: dict[str, Any] = {}
    for key, value in row.items():
        if key is None or value is None or value == "":
            continue
        if _BAD_UTF8.search(value):
            return f"column {key!r} is not valid UTF-8"
        if key == "price":
            try:
                price = float(value)
            except ValueError:
                return f"price {value!r} is not a number"
            if not math.isfinite(price):
                return f"price {value!r} is not a finite number"
            record[key] = price
        elif key == "identifiers":
            record[key] = [i.strip() for i in _ID_SPLIT.split(value) if i.strip()]
        else:
            record[key] = value
    return record


def read_csv(path: Path) -> Iterator[Listing | BadRow]:
    """A header row naming API fields; `identifiers` separated by ';' or '|'."""
    names = csv_header(path)
    with _open_csv(path) as fh:
        reader = csv.DictReader(fh, fieldnames=names)
        next(reader)  # the header itself
        for row in reader:
            line = reader.line_num  # the record's last physical line
            record = csv_record(row)
            yield BadRow(line, record) if isinstance(record, str) else to_listing(record, line)


def count_rows(path: Path, fmt: str) -> int:
    """Rows to screen, for the progress bar's total."""
    if fmt == "csv":
        with _open_csv(path) as fh:
            return max(sum(1 for row in csv.reader(fh) if row) - 1, 0)
    with open(path, "rb") as fh:
        return sum(1 for raw in fh if raw.strip())


def file_format(path: Path, forced: str | None) -> str:
    if forced:
        return forced
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(
            f"cannot tell the format of {path} from its extension; use --format jsonl or csv"
        )
    return fmt


def screen_file(
    screener: Screener | ScreenPool | InProcess,
    source: Path,
    target: Path,
    fmt: str,
    batch_size: int = 512,
    progress: bool = True,
    err: TextIO | None = None,
    total: int | None = None,
) -> ScreenSummary:
    """Screen every good row of `source` into `target` (JSONL verdicts, input order).

    `screener`: a `Screener` (this process) or a `ScreenPool` (a screener process per core).
    `total`: the file's row count when the caller has it (`count_rows`), for the progress bar.
    """
    from tqdm.auto import tqdm

    runner: BatchRunner = (
        screener if isinstance(screener, (ScreenPool, InProcess)) else InProcess(screener)
    )
    err = err or sys.stderr
    rows = read_csv(source) if fmt == "csv" else read_jsonl(source)
    total = count_rows(source, fmt) if total is None else total
    decisions: Counter[str] = Counter()
    bad: list[BadRow] = []
    start = time.perf_counter()
    with (
        open(target, "w", encoding="utf-8") as out,
        tqdm(total=total, unit="listing", disable=not progress, file=err) as bar,
    ):

        def batches() -> Iterator[list[Listing]]:
            batch: list[Listing] = []
            for row in rows:
                if isinstance(row, BadRow):
                    bad.append(row)
                    tqdm.write(f"{source}: line {row.line}: skipped: {row.message}", file=err)
                    bar.update(1)
                    continue
                batch.append(row)
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch

        for lines in runner.map(batches()):
            for decision, line in lines:
                decisions[decision] += 1
                out.write(line)
            out.flush()
            bar.update(len(lines))
    return ScreenSummary(dict(decisions), bad, time.perf_counter() - start)


def fmt_is_parquet(args: argparse.Namespace) -> bool:
    return args.format == "parquet" or Path(args.input).suffix.lower() == ".parquet"


def cmd_screen(args: argparse.Namespace) -> int:
    if args.engine == "ray":
        from training.ray_screen import cmd_screen_ray

        return cmd_screen_ray(args)
    source, target = Path(args.input), Path(args.output)
    if not source.is_file():
        raise UsageError(f"input file {source} does not exist")
    if target.exists() and target.resolve() == source.resolve():
        raise UsageError("--output must not be the input file")
    if target.is_dir():
        raise UsageError(f"--output {target} is a folder; give a file name")
    if not target.parent.is_dir():
        raise UsageError(f"output folder {target.parent} does not exist")
    args.batch_size = 512 if args.batch_size is None else args.batch_size
    if fmt_is_parquet(args):
        raise UsageError("Parquet input needs --engine ray")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    fmt = file_format(source, args.format)
    if fmt == "csv":
        csv_header(source)
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    from model.runtime import registry

    bundle_path = registry.resolve(args.model)
    # A file of one batch is screened here; a longer one by a worker per core (`ScreenPool`).
    rows = count_rows(source, fmt)
    workers = args.workers or (usable_cores() if rows > args.batch_size else 1)
    try:
        if workers > 1:
            from model.matching.bundle import verify

            verify(bundle_path)  # a damaged bundle is named here, before any worker starts
            with ScreenPool(str(bundle_path), workers) as pool:
                summary = screen_file(
                    pool, source, target, fmt, args.batch_size, not args.quiet, total=rows
                )
        else:
            from model.matching.bundle import Bundle
            from model.matching.cascade import make_screener

            # Not frozen (`model.runtime.heap`): this is the caller's process, and a file of
            # one batch would pay the 0.4 s collection for nothing.
            screener = make_screener(Bundle.load(bundle_path))
            summary = screen_file(
                screener, source, target, fmt, args.batch_size, not args.quiet, total=rows
            )
    except OSError as exc:  # unwritable output, input gone mid-run: a user problem, not a bug
        raise UsageError(f"{exc.filename or target}: {exc.strerror or exc}") from exc
    print(summary.line())
    return 1 if summary.bad_rows else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "screen",
        help="screen a JSONL or CSV file of listings; one JSON verdict per line",
        description=(
            "Bad rows are reported on stderr with their line number and skipped (no output "
            "line). Exit status 0: all rows screened; 1: some rows skipped; 2: usage error."
        ),
    )
    p.add_argument(
        "--input",
        required=True,
        help="listings: .jsonl/.ndjson/.json or .csv (ray: also .parquet, a folder or a glob)",
    )
    p.add_argument(
        "--output",
        required=True,
        help="local: a JSONL file of verdicts; ray: a folder (<input>.parquet per input file)",
    )
    p.add_argument("--model", default=None, help="bundle folder or store tag (default: latest)")
    p.add_argument(
        "--format", choices=("jsonl", "csv", "parquet"), default=None, help="override extension"
    )
    p.add_argument(
        "--batch-size", type=int, default=None, help="listings per screening call (512; ray 256)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="local: screener processes (default: one per usable core when the file holds "
        "more than one batch, else this process)",
    )
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process; ray: Ray Data on a local or existing Ray cluster",
    )
    ray = p.add_argument_group("--engine ray")
    ray.add_argument(
        "--address", default=None, help="Ray cluster (default: $RAY_ADDRESS, else local)"
    )
    ray.add_argument("--concurrency", type=int, default=2, help="screening actors")
    ray.add_argument("--num-cpus", type=float, default=1.0, help="CPUs per actor (torch threads)")
    ray.add_argument("--jsonl", action="store_true", help="also write <input>.jsonl per input")
    p.set_defaults(func=cmd_screen)
