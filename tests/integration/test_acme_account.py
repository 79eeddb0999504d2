# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme_account against the sandbox pebble: create, contact diff, rollover, EAB, deactivate (twice), contact kept."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat
import uuid

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.acme.account import Account
from ansible_collections.certpilot.tls.plugins.module_utils.acme.client import AcmeClient
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import AcmeKey
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import AcmeProblem

ACCOUNT = r'''
- name: ACME account
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Account
      certpilot.tls.acme_account: "{{ account_args }}"
      register: account
      ignore_errors: "{{ may_fail | default(false) }}"
'''


def _run(run_playbook, args, check=False, may_fail=False, diff=False):
    res = run_playbook(ACCOUNT, extra_vars={'account_args': args, 'may_fail': may_fail}, check=check,
                       extra_args=['--diff'] if diff else ())
    return res, res.task_results('Account')['localhost']


def _base(server, key_path):
    return {'acme_directory': server['directory'], 'ca_bundle': server['ca_bundle'], 'account_key_src': str(key_path)}


def _key(path):
    with open(path, 'rb') as handle:
        return AcmeKey.from_pem(handle.read())


def _client(server):
    return AcmeClient(server['directory'], verify=server['ca_bundle'], deadline=Deadline(60))


@pytest.mark.timeout(300)
def test_create_contact_diff_idempotent_and_deactivate(sandbox, run_playbook, tmp_path):
    server = sandbox['acme']
    args = dict(_base(server, tmp_path / 'acct.key'), generate_account_key=True, terms_agreed=True,
                account_key_type='ec384', contact=['mailto:one@example.test'])
    res, out = _run(run_playbook, args, check=True)
    assert res.rc == 0 and out['changed'] is True and out['account_uri'] is None
    assert not os.path.exists(str(tmp_path / 'acct.key'))

    res, out = _run(run_playbook, args)
    assert res.rc == 0, res.explain()
    assert out['changed'] is True and out['account_uri'].startswith('https://') and out['status'] == 'valid'
    assert out['contact'] == ['mailto:one@example.test']
    assert stat.S_IMODE(os.stat(str(tmp_path / 'acct.key')).st_mode) == 0o600
    assert _key(str(tmp_path / 'acct.key')).alg == 'ES384'
    uri = out['account_uri']

    res, out = _run(run_playbook, args)
    assert res.rc == 0 and out['changed'] is False and out['account_uri'] == uri

    args['contact'] = ['mailto:two@example.test']
    res, out = _run(run_playbook, args, check=True, diff=True)
    assert out['changed'] is True and out['diff']['before']['contact'] == ['mailto:one@example.test']
    assert out['diff']['after']['contact'] == ['mailto:two@example.test']
    account = Account(_client(server), _key(str(tmp_path / 'acct.key'))).find()
    assert account.data['contact'] == ['mailto:one@example.test'], 'check mode changed the contact'

    res, out = _run(run_playbook, args)
    assert out['changed'] is True and out['contact'] == ['mailto:two@example.test']
    account = Account(_client(server), _key(str(tmp_path / 'acct.key'))).find()
    assert account.data['contact'] == ['mailto:two@example.test']

    args['contact'] = ['not-an-email']
    res, out = _run(run_playbook, args, may_fail=True)
    assert out['failed'] is True and 'mailto:' in out['msg'] and 'Traceback' not in res.stdout

    absent = dict(_base(server, tmp_path / 'acct.key'), state='absent')
    res, out = _run(run_playbook, absent, check=True)
    assert out['changed'] is True
    assert Account(_client(server), _key(str(tmp_path / 'acct.key'))).find() is not None
    res, out = _run(run_playbook, absent)
    assert res.rc == 0 and out['changed'] is True and out['status'] == 'deactivated'
    client = _client(server)
    key = _key(str(tmp_path / 'acct.key'))
    with pytest.raises(AcmeProblem):
        client.post(uri, {}, key=key, kid=uri)


@pytest.mark.timeout(300)
def test_key_rollover_old_key_refused(sandbox, run_playbook, tmp_path):
    server = sandbox['acme']
    old, new = tmp_path / 'old.key', tmp_path / 'new.key'
    res, out = _run(run_playbook, dict(_base(server, old), generate_account_key=True, terms_agreed=True))
    assert res.rc == 0, res.explain()
    uri = out['account_uri']
    new_key = AcmeKey.generate('rsa2048')
    new.write_bytes(new_key.to_pem())

    roll = dict(_base(server, old), new_account_key_src=str(new))
    res, out = _run(run_playbook, roll, check=True)
    assert out['changed'] is True and 'rollover' in out['actions']
    assert Account(_client(server), _key(str(old))).find().uri == uri, 'check mode rolled over'

    res, out = _run(run_playbook, roll)
    assert res.rc == 0, res.explain()
    assert out['changed'] is True and out['account_uri'] == uri and 'rollover' in out['actions']
    # the new key owns the account, the old one is refused
    assert Account(_client(server), new_key).find().uri == uri
    assert Account(_client(server), _key(str(old))).find() is None
    with pytest.raises(AcmeProblem):
        _client(server).post(uri, {}, key=_key(str(old)), kid=uri)
    # idempotent
    res, out = _run(run_playbook, roll)
    assert res.rc == 0 and out['changed'] is False and out['account_uri'] == uri


@pytest.mark.timeout(300)
def test_external_account_binding(sandbox, run_playbook, tmp_path):
    server = sandbox['acme_eab']
    kid, hmac_key = sorted(server['keys'].items())[0]
    args = dict(_base(server, tmp_path / 'eab.key'), generate_account_key=True, terms_agreed=True)
    res, out = _run(run_playbook, args, may_fail=True)
    assert out['failed'] is True and 'external account binding' in out['msg'].lower()
    assert hmac_key not in res.stdout

    args['external_account_binding'] = {'kid': kid, 'key': 'AAAA' + hmac_key[4:] if hmac_key[:4] != 'AAAA' else 'B' + hmac_key[1:]}
    res, out = _run(run_playbook, args, may_fail=True)
    assert out['failed'] is True, 'a wrong HMAC key must be refused'
    assert 'Traceback' not in res.stdout

    for alg in ('HS256',):
        args['external_account_binding'] = {'kid': kid, 'key': hmac_key, 'alg': alg}
        res, out = _run(run_playbook, args)
        assert res.rc == 0, res.explain()
        assert out['changed'] is True and out['status'] == 'valid'
        assert hmac_key not in res.stdout
        res, out = _run(run_playbook, args)
        assert res.rc == 0 and out['changed'] is False


def _lookup(server, key_path):
    """What pebble itself says about the account of the key (None: no account)."""
    return Account(_client(server), _key(str(key_path))).find()


@pytest.mark.timeout(300)
def test_deactivate_twice_is_idempotent_with_a_true_diff(sandbox, run_playbook, tmp_path):
    server = sandbox['acme']
    key_path = tmp_path / 'acct.key'
    contact = ['mailto:absent-%s@example.test' % uuid.uuid4().hex[:8]]
    res, out = _run(run_playbook, dict(_base(server, key_path), generate_account_key=True, terms_agreed=True,
                                       contact=contact))
    assert res.rc == 0 and out['status'] == 'valid', res.explain()
    uri = out['account_uri']
    absent = dict(_base(server, key_path), state='absent')

    res, out = _run(run_playbook, absent, check=True, diff=True)
    assert res.rc == 0 and out['changed'] is True, res.explain()
    assert out['diff'] == {'before': {'status': 'valid', 'contact': contact},
                           'after': {'status': 'deactivated', 'contact': contact}}
    assert _lookup(server, key_path).data['status'] == 'valid', 'check mode deactivated the account'

    res, out = _run(run_playbook, absent, diff=True)
    assert res.rc == 0, res.explain()
    assert out['changed'] is True and out['actions'] == ['deactivate'] and out['status'] == 'deactivated'
    assert out['account_uri'] == uri
    # "before" was read before the deactivation, "after" is what pebble answered
    assert out['diff']['before'] == {'status': 'valid', 'contact': contact}
    assert out['diff']['after']['status'] == 'deactivated'
    # pebble refuses the deactivated account (RFC 8555 section 7.3.6: 403 unauthorized)
    with pytest.raises(AcmeProblem) as refused:
        _client(server).post(uri, {}, key=_key(str(key_path)), kid=uri)
    assert refused.value.is_type('unauthorized') and str(refused.value.status) == '403'

    for check in (True, False):
        res, out = _run(run_playbook, absent, check=check, diff=True)
        assert res.rc == 0, res.explain()
        assert out['changed'] is False and out['actions'] == [] and out['status'] == 'deactivated'
        assert out['diff']['before'] == out['diff']['after']
        assert 'failed' not in out or out['failed'] is False

    # using a deactivated account is a clear failure, not a traceback
    res, out = _run(run_playbook, dict(_base(server, key_path), terms_agreed=True), may_fail=True)
    assert out['failed'] is True and 'deactivated' in out['msg'] and 'new account key' in out['msg']
    assert 'Traceback' not in res.stdout

    # a key that never had an account: absent is no change either
    res, out = _run(run_playbook, dict(_base(server, tmp_path / 'never.key'), generate_account_key=True,
                                       state='absent'))
    assert res.rc == 0, res.explain()
    assert out['actions'] == ['generate key'] and out['status'] is None


ROLE = r'''
- name: The acme_certificates role, no certificate due, only the account task matters here
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: certpilot.tls.acme_certificates
'''


@pytest.mark.timeout(600)
def test_role_without_contact_keeps_the_account_contact(sandbox, run_playbook, tmp_path):
    server = sandbox['acme']
    key_path = tmp_path / 'acct.key'
    contact = ['mailto:keep-%s@example.test' % uuid.uuid4().hex[:8]]
    res, out = _run(run_playbook, dict(_base(server, key_path), generate_account_key=True, terms_agreed=True,
                                       contact=contact))
    assert res.rc == 0, res.explain()
    assert _lookup(server, key_path).data.get('contact') == contact
    role_vars = {'acme_certificates_directory': server['directory'], 'acme_certificates_ca_bundle': server['ca_bundle'],
                 'acme_certificates_account_key_src': str(key_path), 'acme_certificates_terms_agreed': True,
                 'acme_certificates_store': str(tmp_path / 'store'), 'acme_certificates_list': []}

    # the role's default acme_certificates_contact ([]) sends no contact: the account keeps its own
    res = run_playbook(ROLE, extra_vars=role_vars)
    assert res.rc == 0, res.explain()
    account_task = res.task_results('Ensure the ACME account exists')['localhost']
    assert account_task['changed'] is False and account_task['contact'] == contact, res.explain()
    assert _lookup(server, key_path).data.get('contact') == contact, 'the role wiped the account contact'

    # a contact set in the role is applied (the lookup above can see a change)
    other = ['mailto:new-%s@example.test' % uuid.uuid4().hex[:8]]
    res = run_playbook(ROLE, extra_vars=dict(role_vars, acme_certificates_contact=other))
    assert res.rc == 0, res.explain()
    assert res.task_results('Ensure the ACME account exists')['localhost']['changed'] is True
    assert _lookup(server, key_path).data.get('contact') == other

    # an explicit contact: [] on the module clears it (what the role sent on every run before)
    res, out = _run(run_playbook, dict(_base(server, key_path), contact=[]))
    assert res.rc == 0 and out['changed'] is True and out['contact'] == [], res.explain()
    assert not _lookup(server, key_path).data.get('contact')
