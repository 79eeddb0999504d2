# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme_order / acme_finalize modules (in process, against the scripted server): failed_certificates, due,
issued and fail_on_error. Here rather than in tests/unit/plugins/modules/ to share the fake_acme fixture."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.certpilot.tls.plugins.modules import acme_finalize, acme_order
from ansible_collections.certpilot.tls.plugins.module_utils.acme import module_runtime
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import generate_private_key, private_key_pem

pytestmark = pytest.mark.timeout(60)
NS = 'urn:ietf:params:acme:error:'


def _payload(body):
    text = body['payload']
    return json.loads(base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))) if text else None


def _ca(fake):
    fake.routes['/new-acct'] = lambda f, m, b, p, path: (200, {'Location': f.url('/acct/1')}, {'status': 'valid'})

    def new_order(f, method, body, protected, path):
        payload = _payload(body)
        names = [i['value'] for i in payload['identifiers']]
        if 'bad.example.com' in names:
            return 400, {'Content-Type': 'application/problem+json'}, {
                'type': NS + 'rejectedIdentifier', 'detail': 'bad.example.com is forbidden', 'status': 400}
        return 201, {'Location': f.url('/order/%s' % names[0])}, {
            'status': 'pending', 'expires': '2099-01-01T00:00:00Z', 'identifiers': payload['identifiers'],
            'authorizations': [f.url('/authz/%s' % names[0])], 'finalize': f.url('/finalize/1')}
    fake.routes['/new-order'] = new_order
    fake.routes['/authz/*'] = lambda f, m, b, p, path: (200, {}, {
        'status': 'pending', 'identifier': {'type': 'dns', 'value': path.rsplit('/', 1)[1]},
        'challenges': [{'type': 'http-01', 'url': f.url('/chall/1'), 'token': 'tok_1', 'status': 'pending'}]})


def _run(module, args, capsys, monkeypatch):
    """Run ``module.main()`` in process; the store lock it holds until exit is released afterwards."""
    held = []
    original = module_runtime.hold_store_lock

    def hold(*a, **kw):
        lock = original(*a, **kw)
        held.append(lock)
        return lock
    monkeypatch.setattr(module_runtime, 'hold_store_lock', hold)
    # Record the warnings as the module emits them: how they reach the JSON output depends on whether
    # controller-side code was imported in this process (they may go to the controller's Display instead).
    warned = []
    original_warn = AnsibleModule.warn

    def warn(self, msg, *a, **kw):
        warned.append(msg)
        return original_warn(self, msg, *a, **kw)
    monkeypatch.setattr(AnsibleModule, 'warn', warn)
    try:
        with patch_module_args(args):
            with pytest.raises(SystemExit) as exit_info:
                module.main()
    finally:
        for lock in held:
            lock.release()
    out = json.loads(capsys.readouterr().out)
    out['_warned'] = warned
    return exit_info.value.code, out


def _key_pem():
    return private_key_pem(generate_private_key('ec256')).decode('ascii')


@pytest.mark.parametrize('fail_on_error', [True, False])
def test_acme_order_reports_failed_certificates(fake_acme, tmp_path, capsys, monkeypatch, fail_on_error):
    _ca(fake_acme)
    key = _key_pem()
    args = {'acme_directory': fake_acme.url('/dir'), 'account_key_content': key, 'store': str(tmp_path / 'store'),
            'timeout': 20, 'lock_timeout': 5, 'fail_on_error': fail_on_error,
            'certificates': [{'name': 'bad', 'domains': ['bad.example.com']},
                             {'name': 'good', 'domains': ['good.example.com']}]}
    code, out = _run(acme_order, args, capsys, monkeypatch)
    assert out['due'] == ['good'] and out['certificates']['good']['action'] == 'order'
    assert out['certificates']['bad']['action'] == 'error'
    entry = out['failed_certificates']['bad']
    assert entry['reason'] == 'ca-problem' and entry['stage'] == 'order'
    assert entry['problem'] == {'type': NS + 'rejectedIdentifier', 'detail': 'bad.example.com is forbidden',
                                'status': 400, 'subproblems': []}
    assert list(out['failed_certificates']) == ['bad']
    assert key not in json.dumps(out) and 'PRIVATE KEY' not in json.dumps(out)
    summary = '1 of 2 certificates failed: bad: '
    if fail_on_error:
        assert code == 1 and out['failed'] is True and out['msg'].startswith(summary)
    else:
        assert code == 0 and not out.get('failed') and out['changed'] is True
        assert any(w.startswith(summary) for w in out['_warned']), out['_warned']


@pytest.mark.parametrize('fail_on_error', [True, False])
def test_acme_finalize_reports_failed_certificates(fake_acme, tmp_path, capsys, monkeypatch, fail_on_error):
    _ca(fake_acme)
    key = _key_pem()
    store = str(tmp_path / 'store')
    code, _out = _run(acme_order, {'acme_directory': fake_acme.url('/dir'), 'account_key_content': key,
                                   'store': store, 'timeout': 20, 'lock_timeout': 5,
                                   'certificates': [{'name': 'www', 'domains': ['www.example.com']}]}, capsys, monkeypatch)
    assert code == 0
    fake_acme.routes['/order/*'] = lambda f, m, b, p, path: (200, {}, {
        'status': 'invalid', 'authorizations': [f.url('/authz/www.example.com')], 'finalize': f.url('/finalize/1'),
        'error': {'type': NS + 'connection', 'detail': 'www.example.com: Connection refused', 'status': 400}})
    code, out = _run(acme_finalize, {'acme_directory': fake_acme.url('/dir'), 'account_key_content': key,
                                     'store': store, 'timeout': 20, 'lock_timeout': 5,
                                     'fail_on_error': fail_on_error}, capsys, monkeypatch)
    assert out['issued'] == [] and list(out['failed_certificates']) == ['www']
    entry = out['failed_certificates']['www']
    assert entry['stage'] == 'finalize' and entry['problem']['type'] == NS + 'connection'
    if fail_on_error:
        assert code == 1 and out['msg'].startswith('1 of 1 certificates failed: www: ')
    else:
        assert code == 0 and any(w.startswith('1 of 1 certificates failed: www: ') for w in out['_warned'])
