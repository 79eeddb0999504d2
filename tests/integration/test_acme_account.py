# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme_account against the sandbox pebble: create, contact diff, rollover, EAB, deactivate."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

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
