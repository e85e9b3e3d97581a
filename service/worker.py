"""What one service worker opens at start and closes at shutdown, one named piece each.

`service/service.py` stays a thin BentoML class: it calls these in order and keeps what they
return. Each piece reads only the `Settings` it is handed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import bentoml

from model.matching.bundle import Bundle
from model.runtime.registry import bundle_folder, resolve
from model.settings import Settings
from service.auth import KeyStore
from service.live_screening import LiveScreening
from service.review import ReviewConfig, ReviewQueue, TakedownNotifier

log = logging.getLogger("recallguard")


def open_keys(settings: Settings) -> KeyStore:
    """The API keys; with none configured, a dev admin key is written to a 0600 file."""
    keys = KeyStore.from_settings(settings)
    dev_key_file = keys.ensure_dev_key()
    if dev_key_file:  # the key itself goes to a 0600 file, never to the log
        log.warning("no API keys configured; a dev admin key is in %s (mode 0600)", dev_key_file)
    return keys


def open_review(settings: Settings) -> tuple[ReviewQueue, TakedownNotifier]:
    """The reviewer queue and its takedown notifier (started: a daemon thread)."""
    config = ReviewConfig.from_settings(settings)
    queue = ReviewQueue.from_config(config)
    notifier = TakedownNotifier(queue, config.webhook_url, token=config.webhook_token)
    notifier.start()
    return queue, notifier


def bundle_path(settings: Settings, declared: bentoml.models.BentoModel | None) -> Path:
    """The bundle folder to serve.

    `RECALLGUARD_BUNDLE` naming a folder wins; else the model declared on the service (the
    promoted bundle, else the latest, or the tag that `RECALLGUARD_BUNDLE` names), resolved
    from the store (inside a Bento: the one it packs); else `resolve()`, which says how to
    build one.

    :raises BundleNotFoundError: no folder and no bundle in the BentoML store.
    """
    if settings.bundle and Path(settings.bundle).expanduser().is_dir():
        return Path(settings.bundle).expanduser()
    if declared is not None:
        return bundle_folder(declared.resolve().path)
    return resolve(settings.bundle)


def open_live_screening(settings: Settings, path: Path, queue: ReviewQueue) -> LiveScreening:
    """The live screener (bundle plus run-time blocklist changes), catalogue and sweeper."""
    live = LiveScreening(Bundle.load(path), path, settings.data_home, queue)
    log.info("loaded bundle %s from %s", live.screener.version, path)
    return live
