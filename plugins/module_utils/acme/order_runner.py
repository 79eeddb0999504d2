# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme_order per certificate: decide whether to renew, then order, resume a pending order or do nothing."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import time

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.parallel import run_parallel
from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509lib
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import iso_z
from ansible_collections.certpilot.tls.plugins.module_utils.acme import csr as csrlib
from ansible_collections.certpilot.tls.plugins.module_utils.acme import certificate as certlib
from ansible_collections.certpilot.tls.plugins.module_utils.acme import ari as arilib
from ansible_collections.certpilot.tls.plugins.module_utils.acme import revocation
from ansible_collections.certpilot.tls.plugins.module_utils.acme.certificate_workflow import CertificateWorkflow, utc_now, cert_facts, workflow_threads
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import (
    KEY_TYPES, generate_private_key, key_type_of, load_private_key, private_key_pem)
from ansible_collections.certpilot.tls.plugins.module_utils.acme.orders import (
    CHALLENGE_TYPES, authz_error, challenge_entry, find_challenge, parse_expires)
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import ALREADY_REPLACED, MALFORMED, UNAUTHORIZED, AcmeProblem
from ansible_collections.certpilot.tls.plugins.module_utils.acme.renewal import decide
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import PENDING_STATES, imported_source
from ansible_collections.certpilot.tls.plugins.module_utils.acme.validation import validate_name


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


def refuses_replacement(exc):
    """A new-order refusal that is about ``replaces`` (RFC 9773 section 5), so ordering once more without it can work.

    - ``alreadyReplaced``: the certificate was replaced by another order already (section 5 makes a CA answer
      that, HTTP 409, with this type);
    - ``malformed`` or ``unauthorized`` whose detail mentions "replace": the other checks of section 5 (the
      certificate is not this account's, shares no identifier with the order, is unknown) have no type of their
      own; CAs answer them with these two and name the field (Let's Encrypt does).
    Anything else (a rate limit, a 5xx, a refused identifier, a bad nonce) would fail the same way without
    ``replaces`` and is reported as it is.
    """
    if not isinstance(exc, AcmeProblem):
        return False
    if exc.is_type(ALREADY_REPLACED):
        return True
    return (exc.is_type(MALFORMED) or exc.is_type(UNAUTHORIZED)) and exc.mentions('replace')


def shares_identifier(have, want):
    """True when two identifier lists (``csr.identifier_key`` form) have at least one identifier in common."""
    return bool(set(tuple(i) for i in have or []) & set(tuple(i) for i in want or []))


class OrderRunner(CertificateWorkflow):
    """acme_order: per certificate decide, then order, resume or do nothing."""

    def __init__(self, client, key, store, check_mode=False, use_ari='auto', renew_ratio=None, renew_days=None,
                 force=False, now=utc_now):
        super(OrderRunner, self).__init__(client, key, store, now)
        self.check_mode = check_mode
        self.use_ari = use_ari
        self.renew_ratio = renew_ratio
        self.renew_days = renew_days
        self.force = force

    def run(self, specs, concurrency=10):
        """(results, challenges, errors); ``self.failed`` gets one failed_certificates entry per failure."""
        outcomes = run_parallel(self.order_certificate, specs, workflow_threads(concurrency))
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
    def order_certificate(self, spec):
        """Decide for one certificate, then order it, resume its pending order or do nothing: (result, challenges)."""
        started = time.monotonic()
        name = spec['name']
        cert, facts = cert_facts(self.store, name)
        want = csrlib.identifier_key(spec['identifiers'])
        result = {'action': 'none', 'reason': None, 'order_url': None, 'status': None, 'error': None,
                  'not_after': facts['not_after'], 'identifiers': [i['value'] for i in spec['identifiers']],
                  'revoked': False}
        # 0. still rate-limited by the CA (ratelimit.json): skip until then, without asking it
        limited = self.rate_limited(name, 'order')
        if limited is not None:
            result.update({'action': 'skipped', 'reason': 'rate-limited until %s' % limited['retry_at'],
                           'error': limited['msg'], '_failure': limited,
                           'seconds': round(time.monotonic() - started, 3)})
            return result, []
        # 0b. imported by cert_import: whoever is named as its source renews it, never an ACME CA
        source = imported_source(self.store.load_json(name, 'issuer.json')) if cert is not None else None
        if source is not None:
            result.update({'action': 'imported', 'seconds': round(time.monotonic() - started, 3),
                           'reason': 'imported from %s: renewed there, never ordered from ACME' % source})
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
        have = csrlib.identifier_key(certlib.cert_identifiers(cert)) if cert is not None else None
        if replaces and not shares_identifier(have, want):
            # RFC 9773: a replacement must share an identifier with the certificate it replaces
            replaces = None
        renew, reason = decide(
            self.now(),
            not_before=x509lib.not_before(cert) if cert is not None else None,
            not_after=x509lib.not_after(cert) if cert is not None else None,
            have_identifiers=have, want_identifiers=want,
            have_key_type=key_type_of(cert.public_key()) if cert is not None else None,
            want_key_type=spec['key_type'],
            renew_ratio=self.renew_ratio, renew_days=self.renew_days, force=self.force,
            ari_renew_at=ari_at, ari_explanation=ari_expl, issued_by_other=other)
        revoked = revocation.stored_revocation(self.store, name) if cert is not None else None
        if revoked is not None:
            # acme_revoke recorded the current certificate as revoked: replace it now, never with its key
            renew, reason = True, 'the current certificate was revoked (%s at %s)' % (
                revoked.get('reason'), revoked.get('revoked_at'))
            result['revoked'] = True
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
            if not replaces or not refuses_replacement(exc):
                raise
            # the CA refused the order because of the certificate it names (already replaced, not ours, no
            # shared identifier): order once more, without it
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
            if exc.status in (404, 403) or exc.is_type(MALFORMED) or exc.is_type(UNAUTHORIZED):
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
