# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run one function over many items on a bounded thread pool, keeping input order.

Network-bound bulk work (ACME orders, TLS handshakes, RPC calls) spends its time
waiting, so threads give near-linear speed-up without extra dependencies.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from concurrent.futures import ThreadPoolExecutor


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


def run_parallel(func, items, concurrency):
    """Apply ``func`` to every item with at most ``concurrency`` threads.

    One item failing never loses the others: every item gets an ``Outcome``,
    in input order. Exceptions are captured, not raised.
    """
    items = list(items)
    if not items:
        return []
    workers = max(1, min(int(concurrency), len(items)))

    def guarded(item):
        try:
            return Outcome(item, value=func(item))
        except Exception as exc:  # noqa: BLE001 - captured per item on purpose
            return Outcome(item, error=exc)

    if workers == 1:
        return [guarded(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(guarded, items))
