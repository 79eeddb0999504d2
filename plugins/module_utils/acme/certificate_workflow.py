# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the order and finalize workflows share: the account lookup, the stored certificate, failure records."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import threading

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509lib
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import UTC, iso_z
from ansible_collections.certpilot.tls.plugins.module_utils.acme import certificate as certlib
from ansible_collections.certpilot.tls.plugins.module_utils.acme import failures as faillib
from ansible_collections.certpilot.tls.plugins.module_utils.acme import rate_limits
from ansible_collections.certpilot.tls.plugins.module_utils.acme.account import Account
from ansible_collections.certpilot.tls.plugins.module_utils.acme.orders import OrderApi
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import BAD_NONCE, AcmeProblem, OrderFailed
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import CertStore


def utc_now():
    return datetime.datetime.now(UTC)


class _AccountHolder:
    """Looks the account up once, lazily, for all worker threads."""

    def __init__(self, client, key):
        self.client = client
        self.key = key
        self._lock = threading.Lock()
        self._account = None
        self._missing = False

    def get(self, required=True):
        with self._lock:
            if self.key is None:  # check mode before the key exists: there is no account yet
                if required:
                    raise CertpilotError('no account key yet (check mode): the account would be created first')
                return None
            if self._account is None and not self._missing:
                account = Account(self.client, self.key)
                if account.find() is None:
                    self._missing = True
                else:
                    self._account = account
            if self._account is None and required:
                Account(self.client, self.key).require()  # raises the clear message
            return self._account


def cert_facts(store, name):
    """The current certificate of ``name``: (x509 or None, facts dict)."""
    cert = certlib.load_cert(store.read(name, 'cert.pem'))
    if cert is None:
        return None, {'not_after': None}
    return cert, {'not_after': iso_z(x509lib.not_after(cert)), 'serial': '%x' % cert.serial_number}


def fails_the_order(exc):
    """True when ``exc`` ends this order (validation failed, the order invalid, the CSR refused, ...): the
    caller then records the order as failed. A transient server problem (5xx, rate limit, badNonce) does not."""
    if isinstance(exc, OrderFailed):
        return True
    status = getattr(exc, 'status', None)
    try:
        status = int(status)
    except (TypeError, ValueError):
        return False
    return isinstance(exc, AcmeProblem) and 400 <= status < 500 and status != 429 and not exc.is_type(BAD_NONCE)


# Certificates in progress per request slot. ``concurrency`` bounds the HTTP exchanges in flight (the
# client's max_in_flight); most of a certificate's time is spent waiting for the CA (the first waits of
# finalizer.py, Retry-After), which holds no slot, so more certificates than slots are worked on at once.
WORKFLOWS_PER_SLOT = 4


def workflow_threads(concurrency):
    """Threads for ``concurrency`` request slots: WORKFLOWS_PER_SLOT per slot."""
    return max(1, int(concurrency)) * WORKFLOWS_PER_SLOT


class CertificateWorkflow:
    """The base of OrderRunner and Finalizer: the ACME API, the account, the store, thread-safe warnings."""

    def __init__(self, client, key, store, now=utc_now):
        self.client = client
        self.key = key
        self.store = store if isinstance(store, CertStore) else CertStore(store)
        self.now = now
        self.api = OrderApi(client)
        self.account = _AccountHolder(client, key)
        self.warnings = []
        self._warn_lock = threading.Lock()
        # {name: failed_certificates entry} of the last run()
        self.failed = {}
        self.check_mode = False

    def warn(self, msg):
        with self._warn_lock:
            self.warnings.append(msg)

    def failure(self, name, exc, stage):
        """The failed_certificates entry for ``exc``; a rate limit with a known end is recorded in the store."""
        limit = rate_limits.rate_limit_of(exc, self.now())
        if limit is None:
            return faillib.entry(exc, stage)
        until, problem = limit
        if not self.check_mode:
            try:
                rate_limits.record(self.store, name, until, problem, self.now(), stage)
            except CertpilotError as err:
                self.warn('%s: could not record the rate limit: %s' % (name, err.msg))
        return faillib.entry(exc, stage, retry_at=iso_z(until))

    def rate_limited(self, name, stage):
        """The failed_certificates entry when ``name`` is still rate-limited (ratelimit.json), else None."""
        active = rate_limits.load(self.store, name, self.now())
        if active is None:
            return None
        return faillib.rate_limited_entry(iso_z(active['until']), active['record'], stage)

    def cleared(self, name):
        """The CA accepted ``name`` again: drop its rate-limit record."""
        if not self.check_mode:
            rate_limits.clear(self.store, name)

    def current_not_after(self, name):
        """Expiry of the stored certificate (for error results), None when there is none or it is unreadable."""
        try:
            return cert_facts(self.store, name)[1]['not_after']
        except (CertpilotError, ValueError, OSError):
            return None
