# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-certificate workflows behind acme_order (decide, order or resume) and acme_finalize."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import threading
import time

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.parallel import run_parallel
from ansible_collections.certpilot.tls.plugins.module_utils.acme import csr as csrlib
from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509lib
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import UTC, iso_z
from ansible_collections.certpilot.tls.plugins.module_utils.acme import ari as arilib
from ansible_collections.certpilot.tls.plugins.module_utils.acme import failures as faillib
from ansible_collections.certpilot.tls.plugins.module_utils.acme import rate_limits
from ansible_collections.certpilot.tls.plugins.module_utils.acme import revocation
from ansible_collections.certpilot.tls.plugins.module_utils.acme.account import Account
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import (
    KEY_TYPES, generate_private_key, key_type_of, load_private_key, private_key_pem)
from ansible_collections.certpilot.tls.plugins.module_utils.acme.orders import (
    CHALLENGE_TYPES, OrderApi, authz_error, challenge_entry, find_challenge, parse_expires, poll)
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import AcmeProblem
from ansible_collections.certpilot.tls.plugins.module_utils.acme.renewal import decide
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import PENDING_STATES, CertStore
from ansible_collections.certpilot.tls.plugins.module_utils.acme.tokens import validate_name


def _now():
    return datetime.datetime.now(UTC)


def normalize_certificates(certificates):
    """Validate the ``certificates`` option up front (before any network traffic)."""
    specs, seen = [], set()
    for index, item in enumerate(certificates or []):
        if not isinstance(item, dict):
            raise CertpilotError('certificates[%d] must be a dict' % index)
        name = validate_name(item.get('name'))
        if name in seen:
            raise CertpilotError('certificate name %s is used twice' % name)
        seen.add(name)
        challenge = item.get('challenge') or 'http-01'
        if challenge not in CHALLENGE_TYPES:
            raise CertpilotError('%s: challenge must be one of %s' % (name, ', '.join(CHALLENGE_TYPES)))
        key_type = item.get('key_type') or 'ec256'
        if key_type not in KEY_TYPES:
            raise CertpilotError('%s: key_type must be one of %s' % (name, ', '.join(KEY_TYPES)))
        try:
            identifiers = csrlib.parse_identifiers(item.get('domains') or [], challenge)
        except CertpilotError as exc:
            raise CertpilotError('%s: %s' % (name, exc.msg))
        specs.append({'name': name, 'identifiers': identifiers, 'key_type': key_type,
                      'reuse_key': bool(item.get('reuse_key')), 'profile': item.get('profile') or None,
                      'challenge': challenge})
    return specs


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
    cert = csrlib.load_cert(store.read(name, 'cert.pem'))
    if cert is None:
        return None, {'not_after': None}
    return cert, {'not_after': iso_z(x509lib.not_after(cert)), 'serial': '%x' % cert.serial_number}


def _definitive(exc):
    """A failure of this order itself (validation, CSR, ...), not a transient server problem."""
    if getattr(exc, 'definitive', False):
        return True
    status = getattr(exc, 'status', None)
    try:
        status = int(status)
    except (TypeError, ValueError):
        return False
    return isinstance(exc, AcmeProblem) and 400 <= status < 500 and status != 429 and not exc.is_type('badNonce')


def _mark(exc):
    exc.definitive = True
    return exc


# Certificates in progress per request slot. ``concurrency`` bounds the HTTP exchanges in flight (the
# client's max_in_flight); most of a certificate's time is spent waiting for the CA (the first waits below,
# Retry-After), which holds no slot, so more certificates than slots are worked on at once.
WORKFLOWS_PER_SLOT = 4


def workflow_threads(concurrency):
    """Threads for ``concurrency`` request slots: WORKFLOWS_PER_SLOT per slot."""
    return max(1, int(concurrency)) * WORKFLOWS_PER_SLOT


# Before the first poll of a just-answered authorization / just-finalized order, when the server sends no
# Retry-After: long enough for a nearby CA to be done (one poll instead of several), short for a single run.
# Counted from when the request was sent, so the round trip to a far CA is part of it, not added to it.
AUTHZ_FIRST_WAIT = 0.3
ORDER_FIRST_WAIT = 0.3
# a longer Retry-After on a challenge answer is not slept through before finalizing (finalize is only a poll)
MAX_FIRST_WAIT = 5.0


def _wait_for(resp, default):
    """The server's Retry-After (at most MAX_FIRST_WAIT), else ``default`` seconds."""
    retry_after = resp.retry_after if resp is not None else None
    return min(MAX_FIRST_WAIT, retry_after) if retry_after is not None else default


def _stored_authz_urls(stored):
    """The authorization URLs of a stored order document, or None when it has no usable list."""
    entries = stored.get('authorizations')
    if not isinstance(entries, list) or not entries:
        return None
    if not all(isinstance(e, dict) and isinstance(e.get('url'), str) and e['url'] for e in entries):
        return None
    return [e['url'] for e in entries]


def _trust_lost(exc):
    """An answer refused for a reason the CA's current view of the order explains (4xx, not nonce/limit)."""
    try:
        status = int(exc.status)
    except (TypeError, ValueError):
        return False
    return 400 <= status < 500 and status != 429 and not exc.is_type('badNonce') and not exc.is_type('rateLimited')


def _refuses_replacement(exc):
    """A new-order refusal that may be about ``replaces`` (RFC 9773 lets a CA refuse it, some with a 5xx).

    Any 4xx or 5xx answer counts, except a rate limit (asking again at once would only make it worse).
    """
    try:
        status = int(exc.status)
    except (TypeError, ValueError):
        return False
    return 400 <= status < 600 and not rate_limits.is_rate_limit(exc)


def shares_identifier(have, want):
    """True when two identifier lists (``csr.identifier_key`` form) have at least one identifier in common."""
    return bool(set(tuple(i) for i in have or []) & set(tuple(i) for i in want or []))


class _StoreWork:
    """What OrderRunner and Finalizer share: the ACME API, the account, the store, thread-safe warnings."""

    def __init__(self, client, key, store, now=_now):
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


class OrderRunner(_StoreWork):
    """acme_order: per certificate decide, then order, resume or do nothing."""

    def __init__(self, client, key, store, check_mode=False, use_ari='auto', renew_ratio=None, renew_days=None,
                 force=False, now=_now):
        super(OrderRunner, self).__init__(client, key, store, now)
        self.check_mode = check_mode
        self.use_ari = use_ari
        self.renew_ratio = renew_ratio
        self.renew_days = renew_days
        self.force = force

    def run(self, specs, concurrency=10):
        """(results, challenges, errors); ``self.failed`` gets one failed_certificates entry per failure."""
        outcomes = run_parallel(self.one, specs, workflow_threads(concurrency))
        results, challenges, errors, self.failed = {}, [], [], {}
        for outcome in outcomes:
            name = outcome.item['name']
            if outcome.ok:
                result, chals = outcome.value
                failure = result.pop('_failure', None)
                results[name] = result
                challenges.extend(chals)
            else:
                failure = self.failure(name, outcome.error, 'order')
                results[name] = {'action': 'error', 'reason': failure['msg'], 'order_url': None, 'status': None,
                                 'not_after': self.current_not_after(name), 'error': failure['msg'],
                                 'identifiers': [i['value'] for i in outcome.item['identifiers']]}
            if failure is not None:
                self.failed[name] = failure
                errors.append('%s: %s' % (name, failure['msg']))
        return results, challenges, errors

    # -- one certificate --------------------------------------------------------------------------------
    def one(self, spec):
        started = time.monotonic()
        name = spec['name']
        cert, facts = cert_facts(self.store, name)
        want = csrlib.identifier_key(spec['identifiers'])
        result = {'action': 'none', 'reason': None, 'order_url': None, 'status': None, 'error': None,
                  'not_after': facts['not_after'], 'identifiers': [i['value'] for i in spec['identifiers']]}
        # 0. still rate-limited by the CA (ratelimit.json): skip until then, without asking it
        limited = self.rate_limited(name, 'order')
        if limited is not None:
            result.update({'action': 'skipped', 'reason': 'rate-limited until %s' % limited['retry_at'],
                           'error': limited['msg'], '_failure': limited,
                           'seconds': round(time.monotonic() - started, 3)})
            return result, []
        # 1. resume a still-pending stored order for the same request
        stored = self.store.load_order(name)
        if stored and self._same_request(stored, spec):
            resumed = self._try_resume(name, spec, stored, result)
            if resumed is not None:
                result['seconds'] = round(time.monotonic() - started, 3)
                return resumed
        if stored and stored.get('status') in PENDING_STATES and not self.check_mode:
            # a pending order we cannot resume (changed request, expired, invalid at the CA):
            # make sure acme_finalize does not pick it up any more
            doc = dict(stored)
            doc.update({'status': 'abandoned', 'abandoned': iso_z(self.now())})
            self.store.save_order(name, doc)
            self.store.remove(name, 'pending')
        # 2. decide
        other = self._other_directory(name) if cert is not None else None
        # ARI and 'replaces' only make sense at the CA that issued the certificate.
        ari_at, ari_expl, replaces = self._ari(name, cert) if other is None else (None, None, None)
        have = csrlib.identifier_key(csrlib.cert_identifiers(cert)) if cert is not None else None
        if replaces and not shares_identifier(have, want):
            # RFC 9773: a replacement must share an identifier with the certificate it replaces
            replaces = None
        renew, reason = decide(self.now(), x509lib.not_before(cert) if cert is not None else None,
                               x509lib.not_after(cert) if cert is not None else None, have, want,
                               key_type_of(cert.public_key()) if cert is not None else None, spec['key_type'],
                               self.renew_ratio, self.renew_days, self.force, ari_at, ari_expl, other)
        revoked = revocation.stored_revocation(self.store, name) if cert is not None else None
        if revoked is not None:
            # acme_revoke recorded the current certificate as revoked: replace it now, never with its key
            renew, reason = True, 'the current certificate was revoked (%s at %s)' % (
                revoked.get('reason'), revoked.get('revoked_at'))
            if spec['reuse_key']:
                self.warn('%s: reuse_key is set but the current certificate was revoked; generating a new key' % name)
                spec = dict(spec, reuse_key=False)
        result['reason'] = reason
        if not renew:
            result['seconds'] = round(time.monotonic() - started, 3)
            return result, []
        # 3. a new order
        result['action'] = 'order'
        self._check_profile(spec)
        if self.check_mode:
            result['status'] = 'would order'
            return result, []
        self.account.get(required=True)
        try:
            url, order = self.api.new_order(spec['identifiers'], spec['profile'], replaces)
        except AcmeProblem as exc:
            if not replaces or not _refuses_replacement(exc):
                raise
            # the CA refused the order naming the replaced certificate (already replaced, not ours, or a
            # server that does not support it): order once more, without it
            self.warn('%s: the CA refused the order with replaces=%s (HTTP %s, %s); ordering without it'
                      % (name, replaces, exc.status, exc.detail))
            replaces = None
            url, order = self.api.new_order(spec['identifiers'], spec['profile'], None)
        self.cleared(name)
        key_pem, reused = self._pending_key(name, spec)
        key = load_private_key(key_pem, what='%s private key' % name)
        csr_pem = csrlib.make_csr(key, spec['identifiers'])
        authzs, chals = self._authorizations(name, spec, order)
        if not reused:
            self.store.write(name, 'pending/privkey.pem', key_pem)
        self.store.write(name, 'pending/csr.pem', csr_pem)
        doc = self._order_doc(spec, url, order, authzs, replaces)
        doc['reuse_key'] = reused
        self.store.save_order(name, doc)
        result.update({'order_url': url, 'status': order.get('status'), 'seconds': round(time.monotonic() - started, 3)})
        return result, chals

    def _same_request(self, stored, spec):
        if stored.get('status') not in PENDING_STATES:
            return False
        expires = parse_expires(stored.get('expires'))
        if expires is not None and expires <= self.now() + datetime.timedelta(minutes=1):
            return False
        same = (
            csrlib.identifier_key(stored.get('identifiers') or []) == csrlib.identifier_key(spec['identifiers']),
            stored.get('key_type') == spec['key_type'],
            stored.get('profile') == spec['profile'],
            stored.get('challenge') == spec['challenge'],
            stored.get('directory') == self.client.directory_url,
        )
        return all(same) and self.store.read(spec['name'], 'pending', 'csr.pem') is not None

    def _try_resume(self, name, spec, stored, result):
        account = self.account.get(required=not self.check_mode)
        if account is None:
            return None
        try:
            _resp, order = self.api.get(stored['url'], 'fetching the stored order', identifier=name)
        except AcmeProblem as exc:
            if exc.status in (404, 403) or exc.is_type('malformed') or exc.is_type('unauthorized'):
                return None
            raise
        if order.get('status') not in PENDING_STATES:
            return None
        authzs, chals = self._authorizations(name, spec, order)
        if not self.check_mode:
            doc = dict(stored)
            doc.update({'status': order.get('status'), 'authorizations': authzs, 'expires': order.get('expires')})
            self.store.save_order(name, doc)
        self.cleared(name)
        result.update({'action': 'resume', 'order_url': stored['url'], 'status': order.get('status'),
                       'reason': 'resuming the %s order created %s' % (order.get('status'), stored.get('created'))})
        return result, chals

    def _other_directory(self, name):
        """The directory URL that issued the current certificate, if it is not the one in use now.

        Stores written before issuer.json existed have no record: no opinion (None).
        """
        issued = (self.store.load_json(name, 'issuer.json') or {}).get('directory')
        if not issued or issued.rstrip('/') == self.client.directory_url.rstrip('/'):
            return None
        return issued

    def _ari(self, name, cert):
        """(renew_at, explanation, replaces cert id) from ARI, or Nones."""
        if cert is None or self.use_ari == 'never':
            return None, None, None
        offered = bool(self.client.directory().get('renewalInfo'))
        if not offered:
            if self.use_ari == 'always':
                raise CertpilotError('use_ari=always but the ACME server offers no renewalInfo (RFC 9773)')
            return None, None, None
        try:
            cached = self.store.load_json(name, 'ari.json')
            renew_at, expl, doc, fetched = arilib.renewal_info(self.client, cert, cached, self.now())
        except CertpilotError as exc:
            if self.use_ari == 'always':
                raise
            self.warn('%s: renewal information (ARI) unavailable, using the lifetime rule: %s' % (name, exc.msg))
            return None, None, None
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as exc:
            # A malformed ARI answer of any shape must not cost the certificate its renewal.
            if self.use_ari == 'always':
                raise CertpilotError('%s: malformed renewal information (ARI): %s: %s'
                                     % (name, type(exc).__name__, exc))
            self.warn('%s: renewal information (ARI) unusable, using the lifetime rule: %s: %s'
                      % (name, type(exc).__name__, exc))
            return None, None, None
        if fetched and not self.check_mode:
            self.store.save_json(name, 'ari.json', doc)
        return renew_at, expl, doc['cert_id']

    def _check_profile(self, spec):
        if not spec['profile']:
            return
        profiles = self.client.meta().get('profiles') or {}
        if spec['profile'] not in profiles:
            raise CertpilotError('%s: the ACME server does not offer the profile %r (offered: %s)'
                                 % (spec['name'], spec['profile'], ', '.join(sorted(profiles)) or 'no profiles at all'))

    def _pending_key(self, name, spec):
        if spec['reuse_key']:
            existing = self.store.read(name, 'privkey.pem')
            if existing is not None:
                key = load_private_key(existing, what='%s private key' % name)
                if key_type_of(key) == spec['key_type']:
                    return existing, True
                self.warn('%s: reuse_key is set but the current key is %s, not %s; generating a new key'
                          % (name, key_type_of(key), spec['key_type']))
        return private_key_pem(generate_private_key(spec['key_type'])), False

    def _authorizations(self, name, spec, order):
        authzs, chals = [], []
        for url in order.get('authorizations') or []:
            _resp, authz = self.api.get(url, 'fetching an authorization', identifier=name)
            ident = authz.get('identifier') or {}
            entry = {'url': url, 'identifier': ident.get('value'), 'wildcard': bool(authz.get('wildcard')),
                     'status': authz.get('status')}
            if authz.get('status') == 'pending':
                challenge = find_challenge(authz, spec['challenge'])
                chals.append(challenge_entry(name, authz, challenge, self.key))
                entry.update({'challenge_url': challenge['url'], 'token': challenge['token']})
            elif authz.get('status') not in ('valid',):
                raise authz_error(authz, spec['challenge'])
            authzs.append(entry)
        return authzs, chals

    def _order_doc(self, spec, url, order, authzs, replaces):
        return {'url': url, 'status': order.get('status'), 'identifiers': spec['identifiers'],
                'expires': order.get('expires'), 'key_type': spec['key_type'], 'profile': spec['profile'],
                'challenge': spec['challenge'], 'reuse_key': spec['reuse_key'],
                'created': iso_z(self.now()), 'finalize': order.get('finalize'),
                'authorizations': authzs, 'replaces': replaces, 'directory': self.client.directory_url}


class Finalizer(_StoreWork):
    """acme_finalize: answer challenges, wait, finalize, download, verify, install."""

    def __init__(self, client, key, store, preferred_chain=None, deactivate_on_failure=True, now=_now):
        super(Finalizer, self).__init__(client, key, store, now)
        self.preferred_chain = preferred_chain
        self.deactivate_on_failure = deactivate_on_failure

    def run(self, names, concurrency=10):
        """(results, errors); ``self.failed`` gets one failed_certificates entry per failure."""
        outcomes = run_parallel(self.one, names, workflow_threads(concurrency))
        results, errors, self.failed = {}, [], {}
        for outcome in outcomes:
            name = outcome.item
            if outcome.ok:
                failure = outcome.value.pop('_failure', None)
                results[name] = outcome.value
            else:
                failure = self.failure(name, outcome.error, 'finalize')
                results[name] = {'changed': False, 'error': failure['msg']}
            if failure is not None:
                self.failed[name] = failure
                errors.append('%s: %s' % (name, failure['msg']))
        return results, errors

    def facts(self, name, changed):
        cert = csrlib.load_cert(self.store.read(name, 'cert.pem'))
        result = {'changed': changed, 'error': None, 'serial': None, 'not_after': None, 'fingerprint_sha256': None,
                  'cert_path': self.store.path(name, 'cert.pem'), 'chain_path': self.store.path(name, 'chain.pem'),
                  'fullchain_path': self.store.path(name, 'fullchain.pem'), 'key_path': self.store.path(name, 'privkey.pem')}
        if cert is not None:
            result.update({'serial': '%x' % cert.serial_number, 'not_after': iso_z(x509lib.not_after(cert)),
                           'fingerprint_sha256': csrlib.fingerprint_sha256(cert)})
        return result

    def _fail(self, name, stored, order_url, authz_urls, exc):
        """Record the failure and deactivate the authorizations so the order is not reused."""
        if self.deactivate_on_failure:
            for url in authz_urls:
                try:
                    self.api.deactivate_authz(url, identifier=name)
                except CertpilotError:
                    pass
        doc = dict(stored)
        doc.update({'status': 'failed', 'error': getattr(exc, 'msg', str(exc)), 'failed': iso_z(self.now())})
        self.store.save_order(name, doc)
        raise exc

    def one(self, name):
        started = time.monotonic()
        validate_name(name)
        stored = self.store.load_order(name)
        if not stored or stored.get('status') not in PENDING_STATES:
            result = self.facts(name, False)
            result['skipped'] = 'no pending order'
            return result
        limited = self.rate_limited(name, 'finalize')
        if limited is not None:
            # still rate-limited (ratelimit.json): the pending order is kept for a run after that time
            result = self.facts(name, False)
            result.update({'skipped': 'rate-limited', 'error': limited['msg'], '_failure': limited})
            return result
        self.account.get(required=True)
        order_url = stored['url']
        csr_pem = self.store.read(name, 'pending', 'csr.pem')
        key_pem = self.store.read(name, 'pending', 'privkey.pem')
        if key_pem is None and stored.get('reuse_key'):
            key_pem = self.store.read(name, 'privkey.pem')
        if csr_pem is None or key_pem is None:
            raise CertpilotError('the stored order of %s has no pending key/CSR; run acme_order again' % name)
        private_key = load_private_key(key_pem, what='%s private key' % name)
        deadline = self.client.deadline
        # Short way first: trust the order document acme_order stored (authorization, challenge and finalize
        # URLs) and answer, wait, finalize without fetching the order and its authorizations again.
        order, answered = None, set()
        authz_urls = _stored_authz_urls(stored)
        if authz_urls is not None:
            try:
                order = self._short_way(name, stored, csr_pem, answered)
            except CertpilotError as exc:
                if _definitive(exc):
                    self._fail(name, stored, order_url, authz_urls, exc)
                raise
        if order is None:
            # the long way: what the CA says now (resumed after a crash, an answer refused, orderNotReady)
            _resp, order = self.api.get(order_url, 'fetching the order', identifier=name)
            authz_urls = list(order.get('authorizations') or [])
        try:
            if order.get('status') == 'invalid':
                raise _mark(self._order_problem(name, order, stored, validation_first=bool(answered)))
            if order.get('status') == 'pending':
                self._validate(name, stored, authz_urls, answered)
            if order.get('status') in ('pending', 'ready'):
                order = self._finalize(name, order_url, order, csr_pem)
            if order.get('status') != 'valid':
                order = poll(lambda: self.api.get(order_url, 'polling the order', identifier=name),
                             lambda doc: doc.get('status') not in ('processing', 'ready', 'pending'), deadline,
                             '%s: waiting for the certificate' % name,
                             first_wait=self._first_wait(order, ORDER_FIRST_WAIT))
            if order.get('status') != 'valid' or not order.get('certificate'):
                raise _mark(self._order_problem(name, order, stored))
        except CertpilotError as exc:
            if _definitive(exc):
                self._fail(name, stored, order_url, authz_urls, exc)
            raise
        pem, certs = self._download(name, order['certificate'])
        self._verify(name, certs, private_key, stored)
        leaf = csrlib.cert_pem(certs[0])
        chain = b''.join(csrlib.cert_pem(c) for c in certs[1:])
        issuer = {'directory': stored.get('directory') or self.client.directory_url,
                  'serial': '%x' % certs[0].serial_number, 'issued': iso_z(self.now())}
        files = {'cert.pem': leaf, 'chain.pem': chain, 'fullchain.pem': leaf + chain, 'csr.pem': csr_pem,
                 'privkey.pem': key_pem,
                 'issuer.json': (json.dumps(issuer, indent=2, sort_keys=True) + '\n').encode('utf-8')}
        archived = self.store.install(name, files)
        self.store.remove(name, 'pending')
        self.store.remove(name, 'ari.json')
        self.cleared(name)
        doc = dict(stored)
        doc.update({'status': 'done', 'certificate_url': order['certificate'], 'finalized': iso_z(self.now()),
                    'serial': '%x' % certs[0].serial_number, 'archived': archived})
        self.store.save_order(name, doc)
        result = self.facts(name, True)
        result['seconds'] = round(time.monotonic() - started, 3)
        return result

    def _order_problem(self, name, order, stored, validation_first=False):
        """The problem of a failed order; ``validation_first``: we answered its challenges in this run, so the
        failed validation (the authorization's problem, naming the challenge type) comes before the order's."""
        if isinstance(order.get('error'), dict) and not validation_first:
            return AcmeProblem(order['error'], identifier=name, what='the order')
        # find the failed authorization for a per-identifier message
        for url in order.get('authorizations') or []:
            try:
                _resp, authz = self.api.get(url, 'fetching an authorization', identifier=name)
            except CertpilotError:
                continue
            if authz.get('status') == 'invalid':
                return authz_error(authz, stored.get('challenge'))
        if isinstance(order.get('error'), dict):
            return AcmeProblem(order['error'], identifier=name, what='the order')
        return CertpilotError('%s: the order is %s' % (name, order.get('status')))

    def _validate(self, name, stored, authz_urls, answered=()):
        """Answer the pending challenges (except those in ``answered``, the authorization URLs answered in
        this run already: a CA may show a challenge as pending while it validates) and wait for them."""
        ctype = stored.get('challenge') or 'http-01'
        waiting = []
        for url in authz_urls:
            _resp, authz = self.api.get(url, 'fetching an authorization', identifier=name)
            ident = (authz.get('identifier') or {}).get('value')
            status = authz.get('status')
            if status == 'valid':
                continue
            if status != 'pending':
                raise _mark(authz_error(authz, ctype))
            challenge = find_challenge(authz, ctype)
            if challenge.get('status') == 'pending' and url not in answered:
                try:
                    self.api.answer(challenge['url'], identifier=ident)
                except AcmeProblem as exc:
                    # validated in the meantime (a CA refuses an answer to a challenge no longer pending):
                    # the poll below says how it ended
                    if not _trust_lost(exc):
                        raise
            waiting.append((url, ident))
        self._wait_authzs(waiting, ctype, time.monotonic() + AUTHZ_FIRST_WAIT)

    def _wait_authzs(self, waiting, ctype, not_before):
        """Poll each (authz URL, identifier) of ``waiting`` until it is no longer pending; the first poll of
        all of them waits until ``not_before`` (time.monotonic()), as their validations run side by side."""
        deadline = self.client.deadline
        for url, ident in waiting:
            authz = poll(lambda u=url, i=ident: self.api.get(u, 'polling the authorization', identifier=i),
                         lambda doc: doc.get('status') != 'pending', deadline, '%s: waiting for validation' % ident,
                         first_wait=max(0.0, not_before - time.monotonic()))
            if authz.get('status') != 'valid':
                raise _mark(authz_error(authz, ctype))

    @staticmethod
    def _first_wait(order, default):
        """How long to wait before polling ``order`` (a finalize response's doc, carrying ``_poll_at``)."""
        poll_at = order.get('_poll_at') if isinstance(order, dict) else None
        return max(0.0, poll_at - time.monotonic()) if poll_at is not None else default

    def _short_way(self, name, stored, csr_pem, answered):
        """Answer, wait and finalize from the stored order document alone (one request per step).

        Returns the order document of the finalize response, or None when the stored document cannot be
        trusted any more (an answer refused, an authorization not pending, orderNotReady): the caller then
        fetches the order and takes the long way, which reports a failed validation (definitive).
        ``answered`` gets the URL of every authorization whose challenge was answered.
        """
        if stored.get('status') not in ('pending', 'ready') or not stored.get('finalize'):
            return None
        waiting, not_before = [], None
        for entry in stored.get('authorizations'):
            if entry.get('status') == 'valid':
                continue
            if entry.get('status') != 'pending' or not entry.get('challenge_url'):
                return None
            ident = entry.get('identifier')
            sent = time.monotonic()
            try:
                resp, challenge = self.api.answer(entry['challenge_url'], identifier=ident)
            except AcmeProblem as exc:
                if _trust_lost(exc):
                    return None  # already answered, expired, deactivated ...: ask the CA what it has now
                raise
            answered.add(entry['url'])
            if challenge.get('status') == 'valid':
                continue
            if challenge.get('status') not in ('pending', 'processing', 'invalid'):
                return None
            # counted from when the answer was sent: a far CA's round trip is already part of the wait
            not_before = max(not_before or 0.0, sent + _wait_for(resp, AUTHZ_FIRST_WAIT))
            waiting.append((entry['url'], ident))
        if waiting:
            # No authorization poll: finalize is the poll. A CA that is not done yet (or whose validation
            # failed) answers orderNotReady, and the long way then fetches the order and waits properly.
            self.client.deadline.sleep(min(max(0.0, not_before - time.monotonic()), self.client.deadline.remaining()),
                                       '%s: waiting for validation' % name)
        sent = time.monotonic()
        try:
            resp, order = self.api.finalize(stored['finalize'], csrlib.csr_der(csr_pem), identifier=name)
        except AcmeProblem as exc:
            if exc.is_type('orderNotReady') or (waiting and _trust_lost(exc)):
                return None  # not validated yet, or validation failed: the long way says which
            raise
        order = dict(order)
        order['_poll_at'] = sent + _wait_for(resp, ORDER_FIRST_WAIT)
        return order

    def _finalize(self, name, order_url, order, csr_pem):
        der = csrlib.csr_der(csr_pem)
        deadline = self.client.deadline
        if order.get('status') == 'pending':
            order = poll(lambda: self.api.get(order_url, 'polling the order', identifier=name),
                         lambda doc: doc.get('status') != 'pending', deadline, '%s: waiting for the order' % name)
            if order.get('status') != 'ready':
                return order
        sent = time.monotonic()
        try:
            resp, order = self.api.finalize(order['finalize'], der, identifier=name)
        except AcmeProblem as exc:
            if not exc.is_type('orderNotReady'):
                raise
            resp, order = self.api.get(order_url, 'fetching the order', identifier=name)
            if order.get('status') == 'pending':
                order = poll(lambda: self.api.get(order_url, 'polling the order', identifier=name),
                             lambda doc: doc.get('status') != 'pending', deadline, '%s: waiting for the order' % name,
                             first_wait=AUTHZ_FIRST_WAIT)
                resp = None
            if order.get('status') == 'ready':  # once more, and only once (bounded)
                sent = time.monotonic()
                resp, order = self.api.finalize(order['finalize'], der, identifier=name)
        order = dict(order)
        order['_poll_at'] = sent + _wait_for(resp, ORDER_FIRST_WAIT) if resp is not None else None
        return order

    def _download(self, name, url):
        resp = self.api.download(url, identifier=name)
        certs = csrlib.split_pem_chain(resp.content)
        if not self.preferred_chain or self._matches(certs):
            return resp.content, certs
        for alt in resp.links('alternate'):
            alt_resp = self.api.download(alt, identifier=name)
            alt_certs = csrlib.split_pem_chain(alt_resp.content)
            if self._matches(alt_certs):
                return alt_resp.content, alt_certs
        self.warn('%s: no chain issued by %r is offered (have: %s); using the default chain'
                  % (name, self.preferred_chain, ', '.join(csrlib.chain_names(certs))))
        return resp.content, certs

    def _matches(self, certs):
        return self.preferred_chain in csrlib.chain_names(certs)

    def _verify(self, name, certs, private_key, stored):
        leaf = certs[0]
        if not csrlib.cert_matches_key(leaf, private_key):
            raise CertpilotError('%s: the issued certificate does not match the private key; not installed' % name)
        want = csrlib.identifier_key(stored.get('identifiers') or [])
        have = csrlib.identifier_key(csrlib.cert_identifiers(leaf))
        if want != have:
            raise CertpilotError('%s: the issued certificate names %s but %s were ordered; not installed'
                                 % (name, ', '.join(v for _t, v in have), ', '.join(v for _t, v in want)))
        csrlib.check_chain_order(certs)
        if x509lib.not_after(leaf) <= self.now():
            raise CertpilotError('%s: the issued certificate is already expired; not installed' % name)
