# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme_finalize per certificate: answer the challenges, wait, finalize, download, verify and install."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import time

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.parallel import run_parallel
from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509lib
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import iso_z
from ansible_collections.certpilot.tls.plugins.module_utils.acme import csr as csrlib
from ansible_collections.certpilot.tls.plugins.module_utils.acme import certificate as certlib
from ansible_collections.certpilot.tls.plugins.module_utils.acme.certificate_workflow import (
    CertificateWorkflow, fails_the_order, utc_now, workflow_threads)
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import load_private_key
from ansible_collections.certpilot.tls.plugins.module_utils.acme.orders import authz_error, find_challenge, poll
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import (
    BAD_NONCE, ORDER_NOT_READY, RATE_LIMITED, AcmeProblem, OrderFailed, OrderInvalid)
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import PENDING_STATES
from ansible_collections.certpilot.tls.plugins.module_utils.acme.validation import validate_name


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
    return 400 <= status < 500 and status != 429 and not exc.is_type(BAD_NONCE) and not exc.is_type(RATE_LIMITED)


class Finalizer(CertificateWorkflow):
    """acme_finalize: answer challenges, wait, finalize, download, verify, install."""

    def __init__(self, client, key, store, preferred_chain=None, deactivate_on_failure=True, now=utc_now):
        super(Finalizer, self).__init__(client, key, store, now)
        self.preferred_chain = preferred_chain
        self.deactivate_on_failure = deactivate_on_failure

    def run(self, names, concurrency=10):
        """(results, errors); ``self.failed`` gets one failed_certificates entry per failure."""
        outcomes = run_parallel(self.finalize_certificate, names, workflow_threads(concurrency))
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

    def certificate_result(self, name, changed):
        """The ``certificates`` entry of ``name``: paths, and serial, expiry and fingerprint of its current certificate."""
        cert = certlib.load_cert(self.store.read(name, 'cert.pem'))
        result = {'changed': changed, 'error': None, 'serial': None, 'not_after': None, 'fingerprint_sha256': None,
                  'cert_path': self.store.path(name, 'cert.pem'), 'chain_path': self.store.path(name, 'chain.pem'),
                  'fullchain_path': self.store.path(name, 'fullchain.pem'), 'key_path': self.store.path(name, 'privkey.pem')}
        if cert is not None:
            result.update({'serial': '%x' % cert.serial_number, 'not_after': iso_z(x509lib.not_after(cert)),
                           'fingerprint_sha256': x509lib.fingerprint_sha256(cert)})
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

    def finalize_certificate(self, name):
        """Answer, wait, finalize, download, verify and install the pending order of ``name``: its result."""
        started = time.monotonic()
        validate_name(name)
        stored = self.store.load_order(name)
        if not stored or stored.get('status') not in PENDING_STATES:
            result = self.certificate_result(name, False)
            result['skipped'] = 'no pending order'
            return result
        limited = self.rate_limited(name, 'finalize')
        if limited is not None:
            # still rate-limited (ratelimit.json): the pending order is kept for a run after that time
            result = self.certificate_result(name, False)
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
                if fails_the_order(exc):
                    self._fail(name, stored, order_url, authz_urls, exc)
                raise
        if order is None:
            # the long way: what the CA says now (resumed after a crash, an answer refused, orderNotReady)
            _resp, order = self.api.get(order_url, 'fetching the order', identifier=name)
            authz_urls = list(order.get('authorizations') or [])
        try:
            if order.get('status') == 'invalid':
                raise self._order_problem(name, order, stored, validation_first=bool(answered))
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
                raise self._order_problem(name, order, stored)
        except CertpilotError as exc:
            if fails_the_order(exc):
                self._fail(name, stored, order_url, authz_urls, exc)
            raise
        pem, certs = self._download(name, order['certificate'])
        self._verify(name, certs, private_key, stored)
        leaf = certlib.cert_pem(certs[0])
        chain = b''.join(certlib.cert_pem(c) for c in certs[1:])
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
        result = self.certificate_result(name, True)
        result['seconds'] = round(time.monotonic() - started, 3)
        return result

    def _order_problem(self, name, order, stored, validation_first=False):
        """The OrderFailed of a failed order (OrderInvalid, ValidationFailed, or a bare OrderFailed when the CA
        explains nothing); ``validation_first``: we answered its challenges in this run, so the
        failed validation (the authorization's problem, naming the challenge type) comes before the order's."""
        if isinstance(order.get('error'), dict) and not validation_first:
            return OrderInvalid(order['error'], identifier=name, what='the order')
        # find the failed authorization for a per-identifier message
        for url in order.get('authorizations') or []:
            try:
                _resp, authz = self.api.get(url, 'fetching an authorization', identifier=name)
            except CertpilotError:
                continue
            if authz.get('status') == 'invalid':
                return authz_error(authz, stored.get('challenge'))
        if isinstance(order.get('error'), dict):
            return OrderInvalid(order['error'], identifier=name, what='the order')
        return OrderFailed('%s: the order is %s' % (name, order.get('status')))

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
                raise authz_error(authz, ctype)
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
                raise authz_error(authz, ctype)

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
            if exc.is_type(ORDER_NOT_READY) or (waiting and _trust_lost(exc)):
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
            if not exc.is_type(ORDER_NOT_READY):
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
        certs = certlib.split_pem_chain(resp.content)
        if not self.preferred_chain or self._matches(certs):
            return resp.content, certs
        for alt in resp.links('alternate'):
            alt_resp = self.api.download(alt, identifier=name)
            alt_certs = certlib.split_pem_chain(alt_resp.content)
            if self._matches(alt_certs):
                return alt_resp.content, alt_certs
        self.warn('%s: no chain issued by %r is offered (have: %s); using the default chain'
                  % (name, self.preferred_chain, ', '.join(certlib.chain_names(certs))))
        return resp.content, certs

    def _matches(self, certs):
        return self.preferred_chain in certlib.chain_names(certs)

    def _verify(self, name, certs, private_key, stored):
        leaf = certs[0]
        if not x509lib.matches_key(leaf, private_key):
            raise CertpilotError('%s: the issued certificate does not match the private key; not installed' % name)
        want = csrlib.identifier_key(stored.get('identifiers') or [])
        have = csrlib.identifier_key(certlib.cert_identifiers(leaf))
        if want != have:
            raise CertpilotError('%s: the issued certificate names %s but %s were ordered; not installed'
                                 % (name, ', '.join(v for _t, v in have), ', '.join(v for _t, v in want)))
        certlib.check_chain_order(certs)
        if x509lib.not_after(leaf) <= self.now():
            raise CertpilotError('%s: the issued certificate is already expired; not installed' % name)
