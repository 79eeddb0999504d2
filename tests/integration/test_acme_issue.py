# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: acme_account + acme_order + challenge files + acme_finalize against the sandbox pebble."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat
import uuid
from urllib.parse import urlparse

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.acme.account import Account
from ansible_collections.certpilot.tls.plugins.module_utils.acme.client import AcmeClient
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import AcmeKey

from acme_store_util import (  # noqa: E402  (tests/integration is on sys.path)
    account_task, acme_play, challenge_files_task, finalize_task, order_task, public_key_der, tracking)

PLAYBOOK = acme_play('ACME issuance', [
    account_task(('contact', '["mailto:pki@example.test"]')),
    order_task(('concurrency', '10'), ('force', '"{{ force | default(false) }}"')),
    challenge_files_task('wrong_content.get(item.certificate, item.key_authorization)'),
    finalize_task(('concurrency', '10'), ignore_errors='"{{ finalize_may_fail }}"', register='finalize'),
], timeout=240)


@pytest.fixture
def run_playbook(run_playbook, sandbox):
    """The conftest ``run_playbook``; removes the challenge files this test published, even when it fails."""
    yield from tracking(run_playbook, sandbox)


def _vars(sandbox, tmp_path, certificates, wrong=None, key=None):
    return {
        'acme_directory': sandbox['acme']['directory'],
        'acme_ca_bundle': sandbox['acme']['ca_bundle'],
        'account_key': str(key or (tmp_path / 'account.key')),
        'store': str(tmp_path / 'store'),
        'certificates': certificates,
        'webroot': sandbox['hosts']['web1']['webroot'],
        'wrong_content': wrong or {},
        'finalize_may_fail': bool(wrong),
    }


def _client(sandbox):
    return AcmeClient(sandbox['acme']['directory'], verify=sandbox['acme']['ca_bundle'], deadline=Deadline(60))


def _order_urls(sandbox, key_path):
    """Every order URL pebble lists for the account of ``key_path`` (None: no account)."""
    with open(key_path, 'rb') as handle:
        key = AcmeKey.from_pem(handle.read())
    client = _client(sandbox)
    account = Account(client, key).find()
    if account is None:
        return None
    urls, page, seen = [], account.data['orders'], set()
    while page and page not in seen:  # pebble pages the list (3 per page by default)
        seen.add(page)
        resp = client.post_as_get(page)
        urls.extend(resp.json.get('orders') or [])
        nxt = resp.links('next')
        page = nxt[0] if nxt else None
    return sorted(urls)


def _load_chain(path):
    with open(path, 'rb') as handle:
        return x509.load_pem_x509_certificates(handle.read())


def _assert_chains_to_root(sandbox, fullchain_path):
    certs = _load_chain(fullchain_path)
    assert len(certs) >= 2, 'fullchain has the leaf and at least one intermediate'
    for child, parent in zip(certs, certs[1:]):
        child.verify_directly_issued_by(parent)
    roots = [x509.load_pem_x509_certificate(open(p, 'rb').read()) for p in sandbox['acme']['roots']]
    errors = []
    for root in roots:
        try:
            certs[-1].verify_directly_issued_by(root)
            return
        except (ValueError, TypeError, Exception) as exc:  # InvalidSignature and friends
            errors.append(repr(exc))
    raise AssertionError('%s does not chain to any pebble root: %s' % (fullchain_path, errors))


def _sans(cert):
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(list(san.get_values_for_type(x509.DNSName))
                  + [a.compressed for a in san.get_values_for_type(x509.IPAddress)])


def _store_files(store):
    found = []
    for root, _dirs, files in os.walk(store):
        found.extend(os.path.join(root, f) for f in files)
    return found


def _certificates(prefix, count, ip_identifier):
    certs = []
    for index in range(count):
        spec = {'name': '%s-%02d' % (prefix, index), 'domains': ['%s-%02d.example.test' % (prefix, index)]}
        if index % 4 == 1:
            spec['key_type'] = 'rsa2048'
        if index % 4 == 2:
            spec['key_type'] = 'ec384'
        certs.append(spec)
    certs[0]['domains'] = ['%s-00.example.test' % prefix, 'www.%s-00.example.test' % prefix, ip_identifier]
    return certs


@pytest.mark.timeout(900)
def test_bulk_issue_check_mode_and_idempotence(sandbox, run_playbook, tmp_path):
    prefix = 'b' + uuid.uuid4().hex[:6]
    certificates = _certificates(prefix, 20, sandbox['hosts']['web1']['address'])
    extra = _vars(sandbox, tmp_path, certificates)
    key_path = extra['account_key']

    # check mode with no key and no account: nothing is created anywhere
    res = run_playbook(PLAYBOOK, extra_vars=extra, check=True)
    assert res.rc == 0, res.explain()
    assert not os.path.exists(key_path), 'check mode must not write the account key'
    assert not os.path.exists(extra['store']) or _store_files(extra['store']) == []
    order = res.task_results('Order')['localhost']
    assert order['changed'] is True
    assert sorted(order['certificates']) == sorted(c['name'] for c in certificates)
    assert all(r['action'] == 'order' and r['order_url'] is None for r in order['certificates'].values())

    # create the account only, then check mode again: the account has no order afterwards
    acct = run_playbook(PLAYBOOK.split('    - name: Order', maxsplit=1)[0], extra_vars=extra)
    assert acct.rc == 0, acct.explain()
    res = run_playbook(PLAYBOOK.replace('    - name: Order', '    - name: Order\n      check_mode: true', 1)
                       .replace('    - name: Finalize', '    - name: Finalize\n      check_mode: true', 1),
                       extra_vars=extra)
    assert res.rc == 0, res.explain()
    assert os.path.exists(key_path)
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    assert _order_urls(sandbox, key_path) == [], 'check mode must not create orders on the CA'
    assert not os.path.exists(extra['store']) or _store_files(extra['store']) == []

    # the real run: 20 certificates, one task each step
    res = run_playbook(PLAYBOOK, extra_vars=extra)
    assert res.rc == 0, res.explain()
    order = res.task_results('Order')['localhost']
    assert all(r['action'] == 'order' for r in order['certificates'].values()), order['certificates']
    assert order['http_requests'] > 0
    idents = sorted(ch['identifier'] for ch in order['challenges'])
    assert idents == sorted(d for c in certificates for d in c['domains'])
    final = res.task_results('Finalize')['localhost']
    assert final['changed'] is True
    orders_after_first = _order_urls(sandbox, key_path)
    assert len(orders_after_first) == 20

    for spec in certificates:
        result = final['certificates'][spec['name']]
        assert result['error'] is None and result['changed'] is True
        _assert_chains_to_root(sandbox, result['fullchain_path'])
        leaf = _load_chain(result['cert_path'])[0]
        assert _sans(leaf) == sorted(spec['domains'])
        assert format(leaf.serial_number, 'x') == result['serial']
        with open(result['key_path'], 'rb') as handle:
            key = serialization.load_pem_private_key(handle.read(), None)
        assert public_key_der(key) == public_key_der(leaf), '%s: key and certificate do not match' % spec['name']
        want_type = spec.get('key_type', 'ec256')
        assert (want_type.startswith('rsa') and key.key_size == int(want_type[3:])) or \
            (want_type == 'ec256' and key.curve.name == 'secp256r1') or \
            (want_type == 'ec384' and key.curve.name == 'secp384r1')
        assert stat.S_IMODE(os.stat(result['key_path']).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(result['key_path'])).st_mode) == 0o700
        with open(result['fullchain_path'], 'rb') as a, open(result['cert_path'], 'rb') as b, \
                open(result['chain_path'], 'rb') as c:
            assert a.read() == b.read() + c.read()
        stored = json.load(open(os.path.join(extra['store'], spec['name'], 'order.json')))
        assert stored['status'] == 'done'
        assert not os.path.exists(os.path.join(extra['store'], spec['name'], 'pending'))

    # the daily re-run: nothing changes, no new order, finalize sends no request
    res = run_playbook(PLAYBOOK, extra_vars=extra)
    assert res.rc == 0, res.explain()
    assert res.changed('localhost') == 0, res.explain()
    order = res.task_results('Order')['localhost']
    assert all(r['action'] == 'none' for r in order['certificates'].values())
    assert order['challenges'] == []
    assert res.task_results('Finalize')['localhost']['http_requests'] == 0
    assert _order_urls(sandbox, key_path) == orders_after_first


@pytest.mark.timeout(600)
def test_one_wrong_http01_response_does_not_lose_the_others(sandbox, run_playbook, tmp_path):
    prefix = 'w' + uuid.uuid4().hex[:6]
    certificates = [{'name': '%s-%d' % (prefix, i), 'domains': ['%s-%d.example.test' % (prefix, i)]} for i in range(3)]
    bad = certificates[1]['name']
    extra = _vars(sandbox, tmp_path, certificates, wrong={bad: 'not-the-key-authorization'})
    res = run_playbook(PLAYBOOK, extra_vars=extra)
    final = res.task_results('Finalize')['localhost']
    assert final['failed'] is True
    assert bad in final['msg'] and '1 of 3' in final['msg']
    err = final['certificates'][bad]['error']
    assert '%s.example.test' % bad in err and 'http-01' in err, err
    for spec in certificates:
        if spec['name'] == bad:
            assert final['certificates'][bad]['changed'] is False
            assert not os.path.exists(os.path.join(extra['store'], bad, 'cert.pem'))
            stored = json.load(open(os.path.join(extra['store'], bad, 'order.json')))
            assert stored['status'] == 'failed'
        else:
            result = final['certificates'][spec['name']]
            assert result['changed'] is True and result['error'] is None
            _assert_chains_to_root(sandbox, result['fullchain_path'])

    # the next run orders the failed one again (new order, not the failed one) and succeeds
    extra['wrong_content'] = {}
    extra['finalize_may_fail'] = False
    res = run_playbook(PLAYBOOK, extra_vars=extra)
    assert res.rc == 0, res.explain()
    order = res.task_results('Order')['localhost']
    assert order['certificates'][bad]['action'] == 'order'
    assert [r['action'] for n, r in sorted(order['certificates'].items()) if n != bad] == ['none', 'none']
    assert res.task_results('Finalize')['localhost']['certificates'][bad]['changed'] is True


@pytest.mark.timeout(600)
def test_resume_pending_order(sandbox, run_playbook, tmp_path):
    """An order left pending (finalize never ran) is resumed, not re-created."""
    prefix = 'r' + uuid.uuid4().hex[:6]
    certificates = [{'name': prefix, 'domains': ['%s.example.test' % prefix]}]
    extra = _vars(sandbox, tmp_path, certificates)
    playbook = PLAYBOOK.split('    - name: Challenge files', maxsplit=1)[0]
    first = run_playbook(playbook, extra_vars=extra)
    assert first.rc == 0, first.explain()
    url = first.task_results('Order')['localhost']['certificates'][prefix]['order_url']
    second = run_playbook(PLAYBOOK, extra_vars=extra)
    assert second.rc == 0, second.explain()
    result = second.task_results('Order')['localhost']['certificates'][prefix]
    assert result['action'] == 'resume' and result['order_url'] == url
    assert second.task_results('Finalize')['localhost']['certificates'][prefix]['changed'] is True
    assert _order_urls(sandbox, extra['account_key']) == [url]


@pytest.mark.timeout(300)
def test_wildcard_needs_dns01_and_bad_names_fail_clearly(sandbox, run_playbook, tmp_path):
    extra = _vars(sandbox, tmp_path, [{'name': 'wild', 'domains': ['*.example.test']}])
    res = run_playbook(PLAYBOOK, extra_vars=extra)
    order = res.task_results('Order')['localhost']
    assert order['failed'] is True and 'dns-01' in order['msg'] and 'Traceback' not in res.stdout
    extra = _vars(sandbox, tmp_path, [{'name': '../escape', 'domains': ['x.example.test']}])
    res = run_playbook(PLAYBOOK, extra_vars=extra)
    order = res.task_results('Order')['localhost']
    assert order['failed'] is True and 'invalid certificate name' in order['msg']


DNS_PLAYBOOK = acme_play('ACME dns-01', [account_task(), order_task()])

FINALIZE_PLAYBOOK = acme_play('ACME finalize', [
    finalize_task(('preferred_chain', '"{{ preferred_chain | default(omit) }}"'), register='finalize')])


@pytest.mark.timeout(300)
def test_wildcard_dns01_and_preferred_chain(sandbox, run_playbook, sandbox_dns, tmp_path):
    base = 'd' + uuid.uuid4().hex[:6] + '.example.test'
    certificates = [{'name': 'wild', 'domains': ['*.' + base], 'challenge': 'dns-01', 'key_type': 'rsa3072'}]
    extra = _vars(sandbox, tmp_path, certificates)
    res = run_playbook(DNS_PLAYBOOK, extra_vars=extra)
    assert res.rc == 0, res.explain()
    challenges = res.task_results('Order')['localhost']['challenges']
    assert len(challenges) == 1
    chal = challenges[0]
    assert chal['type'] == 'dns-01' and chal['identifier'] == '*.' + base
    assert chal['dns_record'] == '_acme-challenge.' + base
    sandbox_dns.set_txt(chal['dns_record'], chal['dns_value'])
    try:
        root = x509.load_pem_x509_certificate(open(sandbox['acme']['roots'][0], 'rb').read())
        root_cn = root.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
        res = run_playbook(FINALIZE_PLAYBOOK, extra_vars=dict(extra, preferred_chain=root_cn))
    finally:
        sandbox_dns.clear_txt(chal['dns_record'])
    assert res.rc == 0, res.explain()
    result = res.task_results('Finalize')['localhost']['certificates']['wild']
    assert result['changed'] is True
    leaf = _load_chain(result['cert_path'])[0]
    assert _sans(leaf) == ['*.' + base]
    assert leaf.public_key().key_size == 3072
    _assert_chains_to_root(sandbox, result['fullchain_path'])
    assert not res.task_results('Finalize')['localhost'].get('warnings'), 'the root CN matches the default chain'


@pytest.mark.timeout(300)
def test_unknown_preferred_chain_falls_back_with_warning(sandbox, run_playbook, tmp_path):
    name = 'p' + uuid.uuid4().hex[:6]
    extra = _vars(sandbox, tmp_path, [{'name': name, 'domains': [name + '.example.test']}])
    res = run_playbook(PLAYBOOK.split('    - name: Finalize', maxsplit=1)[0], extra_vars=extra)
    assert res.rc == 0, res.explain()
    res = run_playbook(FINALIZE_PLAYBOOK, extra_vars=dict(extra, preferred_chain='No Such Root CA'))
    assert res.rc == 0, res.explain()
    final = res.task_results('Finalize')['localhost']
    assert final['certificates'][name]['changed'] is True
    assert any('No Such Root CA' in w for w in final.get('warnings', [])), final.get('warnings')


@pytest.mark.timeout(300)
def test_force_renewal_reuse_key_and_archive(sandbox, run_playbook, tmp_path):
    prefix = 'k' + uuid.uuid4().hex[:6]
    certificates = [{'name': prefix + '-keep', 'domains': [prefix + '-keep.example.test'], 'reuse_key': True},
                    {'name': prefix + '-new', 'domains': [prefix + '-new.example.test']}]
    extra = _vars(sandbox, tmp_path, certificates)
    res = run_playbook(PLAYBOOK, extra_vars=extra)
    assert res.rc == 0, res.explain()
    first = res.task_results('Finalize')['localhost']['certificates']
    keys = dict((n, open(r['key_path'], 'rb').read()) for n, r in first.items())
    res = run_playbook(PLAYBOOK, extra_vars=dict(extra, force=True))
    assert res.rc == 0, res.explain()
    order = res.task_results('Order')['localhost']['certificates']
    assert all(r['action'] == 'order' and 'forced' in r['reason'] for r in order.values())
    second = res.task_results('Finalize')['localhost']['certificates']
    for spec in certificates:
        name = spec['name']
        assert second[name]['serial'] != first[name]['serial']
        key = open(second[name]['key_path'], 'rb').read()
        assert (key == keys[name]) is bool(spec.get('reuse_key'))
        leaf = _load_chain(second[name]['cert_path'])[0]
        assert public_key_der(serialization.load_pem_private_key(key, None)) == public_key_der(leaf)
        # the previous certificate is kept as generation 1, the new one is generation 2 (docs/acme.md "Store layout")
        folder = os.path.join(extra['store'], name)
        assert sorted(os.listdir(os.path.join(folder, 'generations'))) == ['1', '2']
        assert os.readlink(os.path.join(folder, 'current')) == 'generations/2'
        previous = os.path.join(folder, 'generations', '1')
        old_cert = _load_chain(os.path.join(previous, 'cert.pem'))[0]
        assert format(old_cert.serial_number, 'x') == first[name]['serial']
        assert open(os.path.join(previous, 'privkey.pem'), 'rb').read() == keys[name]
        assert stat.S_IMODE(os.stat(os.path.join(previous, 'privkey.pem')).st_mode) == 0o600


def test_switching_the_acme_directory_renews_once(sandbox, run_playbook, tmp_path):
    # Staging -> production in miniature: the same pebble under another directory URL is, for the
    # store, another CA. The certificate must be replaced at once (not when its lifetime runs low),
    # and only once.
    directory = sandbox['acme']['directory']
    host = urlparse(directory).hostname
    other = directory.replace(host, 'localhost' if host != 'localhost' else '127.0.0.1', 1)
    name = 'd' + uuid.uuid4().hex[:6]
    extra = _vars(sandbox, tmp_path, [{'name': name, 'domains': [name + '.example.test']}])
    res = run_playbook(PLAYBOOK, extra_vars=extra)
    assert res.rc == 0, res.explain()
    issuer = json.load(open(os.path.join(extra['store'], name, 'issuer.json')))
    assert issuer['directory'] == directory
    first = res.task_results('Finalize')['localhost']['certificates'][name]['serial']

    res = run_playbook(PLAYBOOK, extra_vars=dict(extra, acme_directory=other))
    assert res.rc == 0, res.explain()
    order = res.task_results('Order')['localhost']['certificates'][name]
    assert order['action'] == 'order' and 'another ACME directory (%s)' % directory in order['reason'], order
    second = res.task_results('Finalize')['localhost']['certificates'][name]['serial']
    assert second != first
    assert json.load(open(os.path.join(extra['store'], name, 'issuer.json')))['directory'] == other

    res = run_playbook(PLAYBOOK, extra_vars=dict(extra, acme_directory=other))
    assert res.rc == 0, res.explain()
    assert res.task_results('Order')['localhost']['certificates'][name]['action'] == 'none'
