# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run one function over many items on a bounded thread pool, keeping input order.

Network-bound bulk work (ACME orders, TLS handshakes, RPC calls) spends its time
waiting, so threads give near-linear speed-up without extra dependencies.

Progress: when the environment variable ``CERTPILOT_PROGRESS_FILE`` is set (the
controller-side action plugins set it when they run a module with ``async``, see
``plugins/plugin_utils/progress.py``), ``run_parallel`` keeps a small JSON document
there up to date (atomic replace, about once a second, from one writer thread): counts of done,
failed, running and total items, the slowest finished item and the oldest running
one. Labels are item names only (never arguments, so never secrets). Without the
variable nothing is written and nothing is measured.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

PROGRESS_ENV = 'CERTPILOT_PROGRESS_FILE'
PROGRESS_FORMAT = 1
LABEL_MAX = 120
PROGRESS_INTERVAL = 1.0  # seconds between two writes of the progress document


class Outcome:
    """The result of one item: ``value`` on success, ``error`` (an exception) on failure."""

    __slots__ = ('item', 'value', 'error')

    def __init__(self, item, value=None, error=None):
        self.item = item
        self.value = value
        self.error = error

    @property
    def ok(self):
        return self.error is None


def item_label(item):
    """A short, non-secret label for an item: its ``name`` (key or attribute), or the item if it is a string."""
    if isinstance(item, dict):
        name = item.get('name')
    elif isinstance(item, str):
        name = item
    else:
        name = getattr(item, 'name', None)
    if name is None or isinstance(name, (dict, list, tuple)):
        return None
    name = str(name)
    return name if len(name) <= LABEL_MAX else name[:LABEL_MAX - 3] + '...'


def value_failed(value):
    """Whether a returned value reports a per-item failure (for the progress count only).

    Our workers report some failures as values instead of exceptions: a dict with
    ``failed``/``_failure``/``error`` set or ``status: error``, or a tuple whose first
    element is such a dict.
    """
    if isinstance(value, tuple) and value:
        value = value[0]
    if not isinstance(value, dict):
        return False
    return bool(value.get('failed') or value.get('_failure') or value.get('error') or value.get('status') == 'error')


class ProgressWriter:
    """Thread-safe progress counters, written as JSON to ``path`` every ``interval`` seconds (atomic replace).

    The workers only update counters under a lock; one daemon thread writes the file, so the
    document stays fresh (``updated``, ``oldest_running``) even while every item hangs.

    Writing progress must never break the work: the first write error disables the writer.
    """

    def __init__(self, path, total, interval=1.0, clock=time.time):
        self.path = path
        self.total = total
        self.interval = interval
        self.clock = clock
        self.lock = threading.Lock()
        self.started = clock()
        self.done = 0
        self.failed = 0
        self.running = {}
        self.slowest = None
        self.enabled = True
        self._serial = 0
        self._stop = None
        self._thread = None

    def begin(self, label):
        with self.lock:
            self._serial += 1
            token = self._serial
            self.running[token] = (label, self.clock())
        return token

    def end(self, token, failed, count=True):
        """Finish what ``begin`` started. ``count`` False: a step of the work (``validate``), not an item."""
        with self.lock:
            label, started = self.running.pop(token, (None, self.clock()))
            seconds = max(0.0, self.clock() - started)
            if not count:
                return
            if failed:
                self.failed += 1
            else:
                self.done += 1
            if self.slowest is None or seconds > self.slowest['seconds']:
                self.slowest = {'label': label, 'seconds': round(seconds, 3)}

    def add_done(self, count=1):
        """``count`` more items done, without timing them one by one (a fast loop, e.g. file writes)."""
        with self.lock:
            self.done += count

    def document(self):
        with self.lock:
            now = self.clock()
            oldest = None
            if self.running:
                label, started = min(self.running.values(), key=lambda entry: entry[1])
                oldest = {'label': label, 'seconds': round(max(0.0, now - started), 3)}
            return {
                'format': PROGRESS_FORMAT, 'total': self.total, 'done': self.done, 'failed': self.failed,
                'running': len(self.running), 'left': max(0, self.total - self.done - self.failed),
                'slowest': self.slowest, 'oldest_running': oldest,
                'started': round(self.started, 3), 'updated': round(now, 3),
            }

    def start(self):
        """Write now, then every ``interval`` seconds from a daemon thread until ``stop()``."""
        self.write()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name='certpilot-progress')
        self._thread.daemon = True
        self._thread.start()

    def _loop(self):
        while self.enabled and not self._stop.wait(self.interval):
            self.write()

    def stop(self):
        """Stop the writer thread and write the final counts."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if self.enabled:
            self.write()

    def write(self):
        data = json.dumps(self.document(), sort_keys=True).encode('utf-8')
        tmp = self.path + '.tmp'
        try:
            try:
                os.unlink(tmp)  # a leftover of a killed run; O_EXCL below never follows a planted link
            except OSError:
                pass
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0), 0o600)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except (IOError, OSError):
            self.enabled = False  # progress is best effort: never fail the work because of it
            try:
                os.unlink(tmp)
            except OSError:
                pass


def progress_writer(total, environ=None):
    """A ProgressWriter when ``CERTPILOT_PROGRESS_FILE`` is set, else None."""
    path = (os.environ if environ is None else environ).get(PROGRESS_ENV)
    if not path:
        return None
    return ProgressWriter(path, total, interval=PROGRESS_INTERVAL)


def run_parallel(func, items, concurrency, label=None, failed=None):
    """Apply ``func`` to every item with at most ``concurrency`` threads.

    One item failing never loses the others: every item gets an ``Outcome``,
    in input order. Exceptions are captured, not raised.

    ``label(item)`` names an item in the progress document (default: ``item_label``);
    ``failed(value)`` says whether a returned value counts as failed there (default:
    ``value_failed``). Both only matter when ``CERTPILOT_PROGRESS_FILE`` is set.
    """
    items = list(items)
    if not items:
        return []
    workers = max(1, min(int(concurrency), len(items)))
    progress = progress_writer(len(items))

    def guarded(item):
        try:
            return Outcome(item, value=func(item))
        except Exception as exc:  # noqa: BLE001 - captured per item on purpose
            return Outcome(item, error=exc)

    work = guarded
    if progress is not None:
        name_of = label or item_label
        is_failed = failed or value_failed

        def watched(item):
            try:
                name = name_of(item)
            except Exception:  # noqa: BLE001 - a label is cosmetic, never a reason to fail the item
                name = None
            token = progress.begin(name)
            outcome = guarded(item)
            try:
                bad = not outcome.ok or bool(is_failed(outcome.value))
            except Exception:  # noqa: BLE001 - same: the count is cosmetic
                bad = False
            progress.end(token, bad)
            return outcome
        work = watched
        progress.start()

    try:
        if workers == 1:
            return [work(item) for item in items]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(work, items))
    finally:
        if progress is not None:
            progress.stop()
