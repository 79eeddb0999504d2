# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ACME accounts (RFC 8555 section 7.3): find, create (with EAB), update, deactivate, key rollover."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import eab_jws, key_change_inner
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import ACCOUNT_DOES_NOT_EXIST, UNAUTHORIZED, AcmeProblem


def is_deactivated_refusal(problem):
    """The answer of a conforming server to a request signed by a deactivated account: 403 unauthorized."""
    return problem.is_type(UNAUTHORIZED) and str(problem.status) == '403'


def validate_contact(contact):
    contact = list(contact or [])
    for item in contact:
        if not isinstance(item, str) or not item.startswith('mailto:') or '@' not in item or len(item) < 10:
            raise CertpilotError('invalid contact %r: every contact must be a mailto: URI such as '
                                 'mailto:admin@example.com' % (item,))
        if any(c in item for c in ', \t\r\n'):
            raise CertpilotError('invalid contact %r: one address per entry, no spaces or commas' % (item,))
    return contact


class Account:
    """The account of ``key`` on the server of ``client``."""

    def __init__(self, client, key):
        self.client = client
        self.key = key
        self.uri = None
        self.data = None

    def _use(self, uri, data):
        self.uri = uri
        self.data = data or {}
        self.client.set_account(self.key, uri)
        return self

    def find(self, deactivated_ok=False):
        """Look the account up without creating it. Returns self, or None when it does not exist.

        A deactivated account (RFC 8555 section 7.3.6) is refused by a conforming server with
        403 ``unauthorized`` (or ``accountDoesNotExist``, which gives None). With ``deactivated_ok``
        that refusal gives self with ``deactivated`` set (``uri`` None: the server sends no URL),
        otherwise it fails with a message saying the account is deactivated.
        """
        url = self.client.endpoint('newAccount')
        try:
            resp = self.client.post(url, {'onlyReturnExisting': True}, what='looking up the ACME account',
                                    key=self.key, use_jwk=True)
        except AcmeProblem as exc:
            if exc.is_type(ACCOUNT_DOES_NOT_EXIST):
                return None
            if is_deactivated_refusal(exc):
                if deactivated_ok:
                    self.uri = None
                    self.data = {'status': 'deactivated'}
                    return self
                raise CertpilotError('the ACME account of this account key on %s is deactivated (the server says: '
                                     '%s); a deactivated account cannot be used again, create a new one with a new '
                                     'account key' % (self.client.directory_url, exc.detail or exc.msg),
                                     **exc.details)
            raise
        if not resp.location:
            raise CertpilotError('the ACME server sent no account URL (Location) for the account lookup')
        data = resp.json if resp.content else {}
        if not isinstance(data, dict):
            raise CertpilotError('the ACME server sent an account that is not a JSON object (%s)' % resp.location)
        return self._use(resp.location, data)

    @property
    def deactivated(self):
        return (self.data or {}).get('status') in ('deactivated', 'revoked')

    def require(self):
        """Find the account or fail with a clear message."""
        if self.uri:
            return self
        if self.find() is None:
            raise CertpilotError('no ACME account exists for this account key on %s; create it first with '
                                 'certpilot.tls.acme_account (state=present, terms_agreed=true)'
                                 % self.client.directory_url)
        if self.data.get('status') not in (None, 'valid'):
            raise CertpilotError('the ACME account %s is %s' % (self.uri, self.data.get('status')))
        return self

    def create(self, contact=None, terms_agreed=False, eab=None):
        """newAccount. ``eab`` is a dict {kid, key, alg}."""
        url = self.client.endpoint('newAccount')
        meta = self.client.meta()
        if meta.get('externalAccountRequired') and not eab:
            raise CertpilotError('the ACME server requires external account binding: set external_account_binding '
                                 '(kid and key from your CA)')
        if meta.get('termsOfService') and not terms_agreed:
            raise CertpilotError('the ACME server requires agreeing to its terms of service (%s): set terms_agreed=true'
                                 % meta.get('termsOfService'))
        # The contact is sent only when the user set one (an empty list included).
        payload = {}
        if contact is not None:
            payload['contact'] = validate_contact(contact)
        if terms_agreed:
            payload['termsOfServiceAgreed'] = True
        if eab:
            payload['externalAccountBinding'] = eab_jws(self.key.jwk, eab['kid'], eab['key'], url,
                                                        eab.get('alg') or 'HS256')
        resp = self.client.post(url, payload, what='creating the ACME account', key=self.key, use_jwk=True)
        if not resp.location:
            raise CertpilotError('the ACME server sent no account URL (Location) for the new account')
        return self._use(resp.location, resp.json if resp.content else {})

    def update_contact(self, contact):
        resp = self.client.post(self.uri, {'contact': validate_contact(contact)}, what='updating the account contact')
        self.data = resp.json
        return self.data

    def deactivate(self):
        """Deactivate the account; a 403 unauthorized (deactivated in the meantime) is not an error here."""
        try:
            resp = self.client.post(self.uri, {'status': 'deactivated'}, what='deactivating the ACME account')
        except AcmeProblem as exc:
            if not is_deactivated_refusal(exc):
                raise
            self.data = dict(self.data or {}, status='deactivated')
            return self.data
        data = resp.json if resp.content else {}
        self.data = data if isinstance(data, dict) else {}
        self.data.setdefault('status', 'deactivated')
        return self.data

    def rollover(self, new_key):
        """Replace the account key (RFC 8555 section 7.3.5); afterwards the old key is refused."""
        url = self.client.endpoint('keyChange')
        inner = key_change_inner(new_key, self.uri, self.key, url)
        self.client.post(url, inner, what='rolling over the account key', key=self.key, kid=self.uri)
        self.key = new_key
        self.client.set_account(new_key, self.uri)
        return self


def manage_account(client, key, state='present', contact=None, terms_agreed=False, eab=None, new_key=None,
                   check_mode=False, key_missing=False):
    """Bring the account of ``key`` to ``state``; returns a result dict (changed, account_uri, status, contact, diff).

    ``contact`` None leaves the contact alone. ``new_key`` rolls the account over to it
    (idempotent: when the new key already owns the account nothing happens).
    ``key_missing`` means the key is about to be generated (check mode): the account cannot exist yet.
    ``state='absent'`` is idempotent: an account that does not exist or is already deactivated
    (or revoked by the server) is reported unchanged.
    """
    result = {'changed': False, 'account_uri': None, 'status': None, 'contact': [], 'actions': []}
    before_contact = None
    account = None
    if not key_missing:
        if new_key is not None:
            account = Account(client, new_key).find(deactivated_ok=(state == 'absent'))
        if account is None:
            account = Account(client, key).find(deactivated_ok=(state == 'absent'))
            if account is not None and new_key is not None and not account.deactivated:
                result['actions'].append('rollover')
                if not check_mode:
                    account.rollover(new_key)
                result['changed'] = True
    if state == 'absent':
        return _deactivate(account, check_mode, result)
    if contact is not None:
        contact = validate_contact(contact)
    if account is None:
        if new_key is not None and not key_missing:
            raise CertpilotError('neither the account key nor the new account key has an account on %s; '
                                 'nothing to roll over' % client.directory_url)
        result['changed'] = True
        result['actions'].append('create')
        result['contact'] = contact or []
        result['status'] = 'valid'
        if not check_mode:
            account = Account(client, new_key or key).create(contact, terms_agreed, eab)
            result.update({'account_uri': account.uri, 'status': account.data.get('status', 'valid'),
                           'contact': list(account.data.get('contact') or contact or [])})
        result['diff'] = {'before': {}, 'after': {'status': 'valid', 'contact': result['contact']}}
        return result
    if account.data.get('status') not in (None, 'valid'):
        raise CertpilotError('the ACME account %s is %s and cannot be used' % (account.uri, account.data.get('status')))
    before_contact = list(account.data.get('contact') or [])
    after_contact = before_contact
    if contact is not None and sorted(contact) != sorted(before_contact):
        result['changed'] = True
        result['actions'].append('update contact')
        after_contact = contact
        if not check_mode:
            data = account.update_contact(contact)
            after_contact = list(data.get('contact') or [])
    result.update({'account_uri': account.uri, 'status': account.data.get('status', 'valid'), 'contact': after_contact})
    result['diff'] = {'before': {'contact': before_contact}, 'after': {'contact': after_contact}}
    return result


def _deactivate(account, check_mode, result):
    """state=absent: deactivate once; an account that is gone or already deactivated is no change.

    The diff's "before" is taken before anything is sent, its "after" from the server's answer.
    """
    if account is None:
        result['diff'] = {'before': {}, 'after': {}}
        return result
    before = {'status': account.data.get('status', 'valid'), 'contact': list(account.data.get('contact') or [])}
    result.update({'account_uri': account.uri, 'status': before['status'], 'contact': before['contact']})
    if account.deactivated:
        # RFC 8555 section 7.3.6: deactivation is final; asking again is a no-op, not a failure.
        result['diff'] = {'before': before, 'after': dict(before)}
        return result
    result['changed'] = True
    result['actions'].append('deactivate')
    after = {'status': 'deactivated', 'contact': before['contact']}
    if not check_mode:
        data = account.deactivate()
        after = {'status': data.get('status') or 'deactivated',
                 'contact': list(data['contact'] or []) if 'contact' in data else before['contact']}
        if after['status'] != 'deactivated':
            raise CertpilotError('the ACME server answered the deactivation of %s with status %r, not deactivated'
                                 % (account.uri, after['status']))
    result.update({'status': after['status'], 'contact': after['contact']})
    result['diff'] = {'before': before, 'after': after}
    return result
