# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Orders, authorizations and challenges (RFC 8555 section 7.4-7.5) and their polling."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError, RetryLater
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import utc_after
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import b64u
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import UNAUTHORIZED, ValidationFailed, problem_type
from ansible_collections.certpilot.tls.plugins.module_utils.acme.validation import validate_token

CHALLENGE_TYPES = ('http-01', 'dns-01')


def challenge_entry(certificate, authz, challenge, key):
    """The flat record a playbook needs to publish one challenge."""
    token = validate_token(challenge.get('token'))
    ident = authz.get('identifier') or {}
    keyauth = key.key_authorization(token)
    domain = ident.get('value', '')
    return {
        'certificate': certificate,
        'identifier': ('*.' + domain) if authz.get('wildcard') else domain,
        'identifier_type': ident.get('type'),
        'type': challenge.get('type'),
        'token': token,
        'path': '.well-known/acme-challenge/%s' % token,
        'key_authorization': keyauth,
        'dns_record': '_acme-challenge.%s' % domain,
        'dns_value': b64u(hashlib.sha256(keyauth.encode('ascii')).digest()),
    }


def find_challenge(authz, ctype):
    ident = (authz.get('identifier') or {}).get('value', '?')
    for challenge in authz.get('challenges') or []:
        if isinstance(challenge, dict) and challenge.get('type') == ctype:
            if not challenge.get('url'):
                raise CertpilotError('%s: the %s challenge has no url' % (ident, ctype))
            return challenge
    offered = ', '.join(sorted(c.get('type', '?') for c in authz.get('challenges') or [] if isinstance(c, dict)))
    raise CertpilotError('%s: the ACME server does not offer the %s challenge for this identifier (offered: %s)'
                         % (ident, ctype, offered or 'none'), identifier=ident)


def authz_error(authz, ctype=None):
    """The ValidationFailed naming the identifier, from the failed challenge of an invalid authorization."""
    ident = authz.get('identifier') or {}
    name = ident.get('value', '?')
    for challenge in authz.get('challenges') or []:
        if isinstance(challenge, dict) and challenge.get('error') and (ctype is None or challenge.get('type') == ctype):
            return ValidationFailed(challenge['error'], identifier=name, what='%s validation' % challenge.get('type'))
    return ValidationFailed({'type': problem_type(UNAUTHORIZED),
                             'detail': 'authorization is %s' % authz.get('status')}, identifier=name,
                            what='%s validation' % (ctype or 'challenge'))


def parse_expires(text):
    if not text:
        return None
    from ansible_collections.certpilot.tls.plugins.module_utils.acme.ari import parse_time
    try:
        return parse_time(text)
    except CertpilotError:
        return None


def poll(fetch, is_done, deadline, what, first_delay=0.25, max_delay=3.0, first_wait=0.0):
    """Call ``fetch()`` (returns (response, doc)) until ``is_done(doc)``; honours Retry-After and the deadline.

    ``first_wait`` seconds are waited before the first fetch (a resource that was just set in motion is
    rarely done at once: asking right away costs a request). The wait is bound by the deadline.
    """
    if first_wait > 0:
        deadline.sleep(min(first_wait, deadline.remaining()), what)
    delay = first_delay
    while True:
        resp, doc = fetch()
        if is_done(doc):
            return doc
        wait = resp.retry_after if resp is not None and resp.retry_after is not None else delay
        if wait > deadline.remaining():
            if resp is not None and resp.retry_after is not None:
                raise RetryLater('%s: the server asked us to come back in %d seconds (at %s), past the %.0fs left '
                                 'of the timeout; run again after that time'
                                 % (what, int(wait), utc_after(wait), deadline.remaining()), retry_at=utc_after(wait))
            wait = deadline.remaining()
        deadline.sleep(wait, what)
        delay = min(max_delay, delay * 2)


class OrderApi:
    """Thin wrappers over the client for order resources."""

    def __init__(self, client):
        self.client = client

    def new_order(self, identifiers, profile=None, replaces=None):
        payload = {'identifiers': identifiers}
        if profile:
            payload['profile'] = profile
        if replaces:
            payload['replaces'] = replaces
        names = ', '.join(i['value'] for i in identifiers)
        resp = self.client.post(self.client.endpoint('newOrder'), payload, what='creating an order for %s' % names,
                                identifier=names)
        if not resp.location:
            raise CertpilotError('the ACME server sent no order URL (Location) for %s' % names)
        return resp.location, resp.json

    def get(self, url, what='fetching a resource', identifier=None):
        resp = self.client.post_as_get(url, what=what, identifier=identifier)
        return resp, resp.json

    def answer(self, challenge_url, identifier=None):
        resp = self.client.post(challenge_url, {}, what='answering the challenge', identifier=identifier)
        return resp, resp.json

    def deactivate_authz(self, url, identifier=None):
        resp = self.client.post(url, {'status': 'deactivated'}, what='deactivating the authorization',
                                identifier=identifier)
        return resp.json

    def finalize(self, finalize_url, csr_der, identifier=None):
        resp = self.client.post(finalize_url, {'csr': b64u(csr_der)}, what='finalizing the order', identifier=identifier)
        return resp, resp.json

    def download(self, url, identifier=None):
        resp = self.client.post_as_get(url, what='downloading the certificate', accept='application/pem-certificate-chain',
                                       identifier=identifier)
        return resp
