# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""manage_account against a scripted account server: absent is idempotent, contact only when set, absent diff.

The real-server counterpart (pebble) is tests/integration/test_acme_account.py.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import RetryPolicy
from ansible_collections.certpilot.tls.plugins.module_utils.acme.account import manage_account
from ansible_collections.certpilot.tls.plugins.module_utils.acme.client import AcmeClient
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import AcmeKey

pytestmark = pytest.mark.timeout(60)

KEY = AcmeKey.generate('ec256')


def _payload(body):
    raw = body.get('payload') or ''
    return json.loads(base64.urlsafe_b64decode(raw + '=' * (-len(raw) % 4)).decode('utf-8')) if raw else {}


class AccountServer:
    """One account; ``deactivated_lookup`` is what the lookup of a deactivated account answers:
    'unauthorized' (403, pebble and RFC 8555 section 7.3.6), 'doesnotexist' or 'status' (200 with the account)."""

    def __init__(self, fake, deactivated_lookup='unauthorized'):
        self.fake = fake
        self.account = None
        self.payloads = []
        self.deactivated_lookup = deactivated_lookup
        fake.routes['/new-acct'] = self.new_account
        fake.routes['/acct/1'] = self.account_url

    def _doc(self):
        doc = {'status': self.account['status'], 'orders': self.fake.url('/orders/1')}
        if 'contact' in self.account:
            doc['contact'] = self.account['contact']
        return doc

    def new_account(self, fake, method, body, protected, path):
        payload = _payload(body)
        self.payloads.append(('new-acct', payload))
        if self.account is not None:
            if self.account['status'] == 'deactivated':
                if self.deactivated_lookup == 'unauthorized':
                    return fake.problem('unauthorized', 'An account with the provided public key exists but is '
                                        'deactivated', status=403)
                if self.deactivated_lookup == 'doesnotexist':
                    return fake.problem('accountDoesNotExist', 'no such account', status=400)
            return 200, {'Location': fake.url('/acct/1')}, self._doc()
        if payload.get('onlyReturnExisting'):
            return fake.problem('accountDoesNotExist', 'no such account', status=400)
        self.account = {'status': 'valid'}
        if 'contact' in payload:
            self.account['contact'] = payload['contact']
        return 201, {'Location': fake.url('/acct/1')}, self._doc()

    def account_url(self, fake, method, body, protected, path):
        payload = _payload(body)
        self.payloads.append(('acct', payload))
        if self.account['status'] == 'deactivated':
            return fake.problem('unauthorized', 'Account has been deactivated', status=403)
        if 'contact' in payload:
            self.account['contact'] = payload['contact']
        if payload.get('status') == 'deactivated':
            self.account['status'] = 'deactivated'
        return 200, {}, self._doc()


def _client(fake):
    return AcmeClient(fake.url('/dir'), verify=False, deadline=Deadline(30),
                      retry_policy=RetryPolicy(attempts=2, base=0.01, cap=0.05, jitter=0))


def test_create_without_contact_sends_no_contact(fake_acme):
    server = AccountServer(fake_acme)
    result = manage_account(_client(fake_acme), KEY, terms_agreed=True)
    assert result['changed'] is True and result['actions'] == ['create']
    created = [p for what, p in server.payloads if what == 'new-acct' and not p.get('onlyReturnExisting')]
    assert created == [{'termsOfServiceAgreed': True}]


def test_omitted_contact_leaves_it_and_empty_list_clears_it(fake_acme):
    server = AccountServer(fake_acme)
    manage_account(_client(fake_acme), KEY, contact=['mailto:ops@example.test'], terms_agreed=True)
    result = manage_account(_client(fake_acme), KEY, contact=None)
    assert result['changed'] is False and result['contact'] == ['mailto:ops@example.test']
    assert not [p for what, p in server.payloads if what == 'acct'], 'an omitted contact sent an update'
    assert server.account['contact'] == ['mailto:ops@example.test']

    result = manage_account(_client(fake_acme), KEY, contact=[], check_mode=True)
    assert result['changed'] is True and result['diff']['after']['contact'] == []
    assert server.account['contact'] == ['mailto:ops@example.test'], 'check mode changed the contact'
    result = manage_account(_client(fake_acme), KEY, contact=[])
    assert result['changed'] is True and result['actions'] == ['update contact'] and result['contact'] == []
    assert server.account['contact'] == []
    assert manage_account(_client(fake_acme), KEY, contact=[])['changed'] is False


@pytest.mark.parametrize('lookup', ['unauthorized', 'doesnotexist', 'status'])
def test_absent_twice_is_idempotent_with_a_true_diff(fake_acme, lookup):
    server = AccountServer(fake_acme, deactivated_lookup=lookup)
    manage_account(_client(fake_acme), KEY, contact=['mailto:ops@example.test'], terms_agreed=True)

    check = manage_account(_client(fake_acme), KEY, state='absent', check_mode=True)
    assert check['changed'] is True and server.account['status'] == 'valid'
    assert check['diff'] == {'before': {'status': 'valid', 'contact': ['mailto:ops@example.test']},
                             'after': {'status': 'deactivated', 'contact': ['mailto:ops@example.test']}}

    first = manage_account(_client(fake_acme), KEY, state='absent')
    assert first['changed'] is True and first['actions'] == ['deactivate'] and first['status'] == 'deactivated'
    assert first['diff']['before'] == {'status': 'valid', 'contact': ['mailto:ops@example.test']}
    assert first['diff']['after']['status'] == 'deactivated'
    assert server.account['status'] == 'deactivated'

    sent = len(server.payloads)
    second = manage_account(_client(fake_acme), KEY, state='absent')
    assert second['changed'] is False and second['actions'] == []
    assert second['diff']['before'] == second['diff']['after']
    if lookup != 'doesnotexist':
        assert second['status'] == 'deactivated'
    assert not [p for what, p in server.payloads[sent:] if what == 'acct'], 'deactivated a second time'


def test_present_on_a_deactivated_account_fails_clearly(fake_acme):
    AccountServer(fake_acme)
    manage_account(_client(fake_acme), KEY, terms_agreed=True)
    manage_account(_client(fake_acme), KEY, state='absent')
    with pytest.raises(CertpilotError, match='is deactivated.*new account key'):
        manage_account(_client(fake_acme), KEY, terms_agreed=True)


def test_other_refusals_of_the_lookup_still_fail_absent(fake_acme):
    fake_acme.routes['/new-acct'] = lambda fake, *a: fake.problem('unauthorized', 'not you', status=401)
    with pytest.raises(CertpilotError, match='not you'):
        manage_account(_client(fake_acme), KEY, state='absent')
    fake_acme.routes['/new-acct'] = lambda fake, *a: fake.problem('serverInternal', 'oops', status=500)
    with pytest.raises(CertpilotError, match='oops'):
        manage_account(_client(fake_acme), KEY, state='absent')
