"""Keeping the garbage collector off what a process loaded to screen with.

A loaded bundle is millions of long-lived Python objects (entry views, term weights, the
tokenizer's vocabulary). Every full collection walks them all, and full collections come
round as a batch allocates its verdicts and feature rows. Frozen (`gc.freeze`), they are left
out of every later collection; they are never freed anyway while the process screens.
"""

from __future__ import annotations

import gc


def freeze_loaded() -> None:
    """Collect once, then move every object alive now out of the collector's reach.

    Call once per process, after loading what it keeps (the bundle, the screener) and before
    screening; objects made later are collected as usual. Process-wide: it affects every
    object alive at the call. Measured (2,000 Amazon UK listings in 512-listing batches, one
    torch thread): time in the collector 0.195 -> 0.022 ms a listing; in the service, 32
    clients on `/screen`, p99 486-779 -> 299-318 ms. Verdicts are unchanged. The price is one
    full collection now: about 0.4 s after loading the default bundle, whose load takes 7-8 s.
    """
    gc.collect()
    gc.freeze()
