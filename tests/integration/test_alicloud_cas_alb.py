# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""alicloud_cas_certificate and alb_listener_certificate, run by ansible-playbook against the fake
CAS + ALB API (HTTPS by host name, signature V3): upload -> switch default + SNI -> verify -> prune,
idempotence, check mode, bulk with per-item failures, and the bad-input cases."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sys
import uuid

import pytest

FAKES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'fakes')
if FAKES not in sys.path:
    sys.path.insert(0, FAKES)

from alicloud_api.pytest_fixtures import alicloud  # noqa: E402,F401  pylint: disable=unused-import
from slb_api.certs import MiniCa, fingerprint_sha256, key_pem  # noqa: E402
from slb_api.pytest_fixtures import one_result, slb_run  # noqa: E402,F401  pylint: disable=unused-import

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope='module')
def ca():
    return MiniCa('CAS Integration')


def _uid():
    return uuid.uuid4().hex[:8]


def _files(tmp_path, ca, cn, kind='rsa', key_format='pkcs8', days=90):
    cert, key = ca.issue(cn, kind=kind, days=days)
    chain = tmp_path / ('%s-fullchain.pem' % cn)
    keyfile = tmp_path / ('%s-privkey.pem' % cn)
    chain.write_text(ca.fullchain(cert))
    keyfile.write_text(key_pem(key, key_format))
    keyfile.chmod(0o600)
    return cert, str(chain), str(keyfile), key_pem(key, key_format)


def _task(module, args, name='step', extra=''):
    return '- name: %s\n  %s: %s\n  register: out\n%s' % (name, module, json.dumps(args), extra)


def _play(*tasks):
    return '- hosts: localhost\n  gather_facts: false\n  tasks:\n' + '\n'.join(
        '\n'.join('    ' + line for line in t.splitlines()) for t in tasks) + '\n'


def _fp(cert):
    return fingerprint_sha256(cert).replace(':', '')


def _seed_listener(alicloud, ca, tmp_path):
    """A listener whose default is a seeded 'old' CAS certificate."""
    cert, chain, dummy, key_text = _files(tmp_path, ca, 'old-%s.example.test' % _uid(), key_format='pkcs1')
    seeded = alicloud.admin.seed({'certificates': [{'Cert': open(chain).read(), 'Key': key_text,
                                                    'Name': 'seed-old-%s' % _uid()}]})
    old_id = seeded['certificates'][0]
    lid = 'lsn-%s' % uuid.uuid4().hex[:18]
    alicloud.admin.seed({'listeners': [{'ListenerId': lid, 'DefaultCertificateId': old_id}]})
    return lid, old_id


def test_upload_switch_verify_prune_and_idempotence(alicloud, slb_run, ca, tmp_path):
    prefix = 'rot-%s-' % _uid()
    lid, old_id = _seed_listener(alicloud, ca, tmp_path)
    main_cert, main_chain, main_key, dummy = _files(tmp_path, ca, 'www-%s.example.test' % _uid())
    sni_cert, sni_chain, sni_key, dummy = _files(tmp_path, ca, 'api-%s.example.test' % _uid(), kind='ec')
    # an older upload of the same name family, unused: the prune candidate
    stale_cert, stale_chain, stale_key, dummy = _files(tmp_path, ca, 'stale-%s.example.test' % _uid(), days=30)
    upload = _task('certpilot.tls.alicloud_cas_certificate', alicloud.module_args(certificates=[
        {'certificate_src': stale_chain, 'private_key_src': stale_key, 'name': prefix + 'stale'}]), 'stale')
    assert slb_run(_play(upload)).rc == 0
    alicloud.admin.clear_calls()  # the fake's call log is shared with earlier tests

    play = _play(
        _task('certpilot.tls.alicloud_cas_certificate', alicloud.module_args(
            certificates=[{'certificate_src': main_chain, 'private_key_src': main_key, 'name': prefix + 'www'},
                          {'certificate_src': sni_chain, 'private_key_src': sni_key, 'name': prefix + 'api'}],
            concurrency=2), 'upload', extra='- ansible.builtin.set_fact:\n    ids: "{{ out.results | map(attribute=\'certificate_id\') | list }}"\n'),
        _task('certpilot.tls.alb_listener_certificate', alicloud.module_args(
            listener_id=lid, default_certificate_id='{{ ids[0] }}', additional_certificate_ids=['{{ ids[1] }}'],
            wait_timeout=30), 'switch'),
        _task('certpilot.tls.alicloud_cas_certificate', alicloud.module_args(
            prune={'name_prefix': prefix, 'keep': 0}, describe=True, describe_name_prefix=prefix), 'prune'),
    )
    first = slb_run(play, extra_args=['--diff'])
    assert first.rc == 0, first.explain()
    up = one_result(first, 'upload')
    assert up['changed'] and [r['uploaded'] for r in up['results']] == [True, True]
    assert [r['fingerprint_sha256'] for r in up['results']] == [_fp(main_cert), _fp(sni_cert)]
    assert up['results'][1]['certificate']['key_type'] == 'ECDSA'
    new_id, sni_id = [r['certificate_id'] for r in up['results']]
    sw = one_result(first, 'switch')
    assert sw['changed'] and sw['results'][0]['verified'] is True
    assert sw['previous_default_certificate_id'] == '%s-cn-hangzhou' % old_id
    assert sw['default_certificate_id'] == '%s-cn-hangzhou' % new_id
    assert sw['added'] == ['%s-cn-hangzhou' % sni_id]
    # what the fake (the "cloud") now has, independently of the module's own read-back
    listener = alicloud.admin.listener(lid)
    assert listener['default'] == '%s-cn-hangzhou' % new_id
    assert listener['additional'] == {'%s-cn-hangzhou' % sni_id: 'Associated'}
    assert listener['ListenerStatus'] == 'Running'
    pr = one_result(first, 'prune')
    stale_ids = [str(c['Id']) for c in alicloud.admin.state()['certificates'] if c['Name'] == prefix + 'stale']
    assert stale_ids == []  # deleted
    assert len(pr['deleted']) == 1 and pr['prune_skipped'] == []
    described = dict((c['name'], c) for c in pr['certificates'])
    assert set(described) == set([prefix + 'www', prefix + 'api'])
    assert described[prefix + 'www']['used_by'][0]['listener_id'] == lid
    assert described[prefix + 'www']['used_by'][0]['default'] is True
    assert described[prefix + 'api']['used_by'][0]['default'] is False
    assert described[prefix + 'www']['fingerprint_sha256'] == _fp(main_cert)
    assert 0 < described[prefix + 'www']['days_remaining'] <= 90
    # ClientToken on every mutating call, DryRun on none outside check mode
    calls = [c for c in alicloud.admin.calls() if c['Action'] in (
        'UploadUserCertificate', 'UpdateListenerAttribute', 'AssociateAdditionalCertificatesWithListener',
        'DeleteUserCertificate')]
    assert calls and all(c['params'].get('ClientToken') for c in calls)
    assert not any(c['params'].get('DryRun') for c in calls)
    assert all(c['signature'] == 'v3' for c in alicloud.admin.calls())
    # only what changes: the listener update carried the certificate, nothing else
    update = [c for c in calls if c['Action'] == 'UpdateListenerAttribute'][-1]
    assert sorted(update['params']) == ['Certificates.1.CertificateId', 'ClientToken', 'ListenerId']

    second = slb_run(play)
    assert second.rc == 0, second.explain()
    assert [t for t in ('upload', 'switch', 'prune') if one_result(second, t)['changed']] == []
    assert [r['certificate_id'] for r in one_result(second, 'upload')['results']] == [new_id, sni_id]
    # no key material anywhere in -vvv output
    loud = slb_run(play, extra_args=['-vvv'])
    assert loud.rc == 0, loud.explain()
    from cryptography.hazmat.primitives import serialization
    for path in (main_key, sni_key):
        text = open(path).read()
        sent = serialization.load_pem_private_key(text.encode(), None).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()).decode()
        for pem_text in (text, sent):  # as given (PKCS#8) and as uploaded (traditional)
            for line in pem_text.splitlines()[1:3]:
                assert line not in loud.stdout + loud.stderr
    assert alicloud.secret_key not in loud.stdout + loud.stderr


def test_check_mode_changes_nothing_and_uses_dry_run(alicloud, slb_run, ca, tmp_path):
    lid, old_id = _seed_listener(alicloud, ca, tmp_path)
    cert, chain, key, dummy = _files(tmp_path, ca, 'check-%s.example.test' % _uid())
    seeded = alicloud.admin.seed({'certificates': [{'Cert': open(chain).read(), 'Key': open(key).read(),
                                                    'Name': 'check-new-%s' % _uid()}]})
    new_id = seeded['certificates'][0]
    other_cert, other_chain, other_key, dummy = _files(tmp_path, ca, 'check2-%s.example.test' % _uid())
    before = alicloud.admin.state()
    alicloud.admin.clear_calls()
    play = _play(
        _task('certpilot.tls.alicloud_cas_certificate', alicloud.module_args(
            certificate_src=other_chain, private_key_src=other_key), 'upload'),
        _task('certpilot.tls.alb_listener_certificate', alicloud.module_args(
            listener_id=lid, default_certificate_id=str(new_id), additional_certificate_ids=[str(old_id)]), 'switch'))
    res = slb_run(play, check=True)
    assert res.rc == 0, res.explain()
    up = one_result(res, 'upload')
    assert up['changed'] and up['uploaded'] and up['certificate_id'] is None
    sw = one_result(res, 'switch')
    assert sw['changed'] and sw['default_certificate_id'] == '%s-cn-hangzhou' % new_id
    assert sw['previous_default_certificate_id'] == '%s-cn-hangzhou' % old_id
    after = alicloud.admin.state()
    assert [c['Id'] for c in after['certificates']] == [c['Id'] for c in before['certificates']]
    assert alicloud.admin.listener(lid)['default'] == '%s-cn-hangzhou' % old_id
    actions = [(c['Action'], c['params'].get('DryRun')) for c in alicloud.admin.calls()]
    assert ('UploadUserCertificate', None) not in actions and not any(a == 'UploadUserCertificate' for a, d in actions)
    assert ('UpdateListenerAttribute', 'true') in actions
    assert all(d == 'true' for a, d in actions if a in ('UpdateListenerAttribute',
                                                        'AssociateAdditionalCertificatesWithListener'))


def test_bad_inputs_are_named_per_item(alicloud, slb_run, ca, tmp_path):
    lid, old_id = _seed_listener(alicloud, ca, tmp_path)
    # unknown listener and unknown certificate id in one bulk call: the good listener still changes
    cert, chain, key, dummy = _files(tmp_path, ca, 'bulk-%s.example.test' % _uid())
    new_id = alicloud.admin.seed({'certificates': [{'Cert': open(chain).read(), 'Key': open(key).read(),
                                                    'Name': 'bulk-%s' % _uid()}]})['certificates'][0]
    play = _play(_task('certpilot.tls.alb_listener_certificate', alicloud.module_args(listeners=[
        {'listener_id': 'lsn-doesnotexist000000', 'default_certificate_id': str(new_id)},
        {'listener_id': lid, 'default_certificate_id': '99999999'},
        {'listener_id': lid, 'additional_certificate_ids': [str(new_id)]},
    ], concurrency=1), 'bulk'))
    res = slb_run(play)
    assert res.rc != 0
    out = one_result(res, 'bulk')
    failed = dict((f['listener_id'] + '/' + f['error_code'], f) for f in out['failed_items'])
    assert set(failed) == set(['lsn-doesnotexist000000/ResourceNotFound.Listener', lid + '/ResourceNotFound.Certificate'])
    assert all(f['request_id'] for f in out['failed_items'])
    assert 'lsn-doesnotexist000000' in out['msg'] and '99999999' in out['msg']
    assert alicloud.admin.listener(lid)['additional'] == {'%s-cn-hangzhou' % new_id: 'Associated'}
    # Ed25519 key: refused by our validation, nothing sent
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives import serialization
    from slb_api.certs import make_cert, cert_pem
    ed = ed25519.Ed25519PrivateKey.generate()
    ed_cert = make_cert('ed-%s.example.test' % _uid(), ed, ca.intermediate, ca.int_key)
    ed_key = ed.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()
    alicloud.admin.clear_calls()
    res = slb_run(_play(_task('certpilot.tls.alicloud_cas_certificate', alicloud.module_args(
        certificate=cert_pem(ed_cert) + cert_pem(ca.intermediate), private_key=ed_key), 'ed25519')))
    assert res.rc != 0
    msg = one_result(res, 'ed25519')['msg']
    assert 'Ed25519' in msg and 'RSA or ECDSA' in msg
    assert not [c for c in alicloud.admin.calls() if c['Action'] == 'UploadUserCertificate']
    assert ed_key.splitlines()[1] not in res.stdout + res.stderr
    # a key of another certificate
    c1, chain1, dummy, dummy2 = _files(tmp_path, ca, 'mismatch-%s.example.test' % _uid())
    dummy3, dummy4, key2, dummy5 = _files(tmp_path, ca, 'other-%s.example.test' % _uid())
    res = slb_run(_play(_task('certpilot.tls.alicloud_cas_certificate', alicloud.module_args(
        certificate_src=chain1, private_key_src=key2), 'mismatch')))
    assert res.rc != 0 and 'does not match the certificate' in one_result(res, 'mismatch')['msg']


def test_in_use_certificate_is_never_deleted(alicloud, slb_run, ca, tmp_path):
    lid, old_id = _seed_listener(alicloud, ca, tmp_path)
    res = slb_run(_play(_task('certpilot.tls.alicloud_cas_certificate', alicloud.module_args(
        state='absent', certificate_ids=[str(old_id)]), 'delete')))
    assert res.rc != 0
    out = one_result(res, 'delete')
    assert out['error_code'] == 'CertificateInUse' and out['request_id'] and out['request_id'] in out['msg']
    assert alicloud.admin.certificate(old_id) is not None


def test_bad_secret_gives_signature_does_not_match_with_request_id(alicloud, slb_run):
    res = slb_run(_play(_task('certpilot.tls.alicloud_cas_certificate', alicloud.module_args(
        alicloud_secret_key='wrong-secret-%s' % _uid(), describe=True), 'bad secret')))
    assert res.rc != 0
    out = one_result(res, 'bad secret')
    assert 'SignatureDoesNotMatch' in out['msg'] and out['request_id'] and out['request_id'] in out['msg']
    assert 'wrong-secret' not in res.stdout + res.stderr
    res = slb_run(_play(_task('certpilot.tls.alb_listener_certificate', alicloud.module_args(
        alicloud_access_key='LTAIunknown%s' % _uid(), listener_id='lsn-x'), 'unknown key')))
    assert res.rc != 0
    assert 'InvalidAccessKeyId.NotFound' in one_result(res, 'unknown key')['msg']


def test_throttling_is_retried_and_asynchronous_listener_is_waited_for(alicloud, slb_run, ca, tmp_path):
    lid, old_id = _seed_listener(alicloud, ca, tmp_path)
    cert, chain, key, dummy = _files(tmp_path, ca, 'async-%s.example.test' % _uid())
    ids = alicloud.admin.seed({'certificates': [{'Cert': open(chain).read(), 'Key': open(key).read(),
                                                 'Name': 'async-%s' % _uid()}]})['certificates']
    alicloud.admin.faults(throttle_next=2, actions=['UpdateListenerAttribute'], configuring_seconds=1.5)
    alicloud.admin.clear_calls()
    try:
        res = slb_run(_play(_task('certpilot.tls.alb_listener_certificate', alicloud.module_args(
            listener_id=lid, default_certificate_id=str(ids[0]), additional_certificate_ids=[str(old_id)]), 'switch')))
    finally:
        alicloud.admin.faults(throttle_next=0, actions=None, configuring_seconds=0.6)
    assert res.rc == 0, res.explain()
    calls = alicloud.admin.calls()
    updates = [c for c in calls if c['Action'] == 'UpdateListenerAttribute']
    assert len(updates) == 3 and len(set(c['params']['ClientToken'] for c in updates)) == 1
    # it polled GetListenerAttribute between the update and the association
    names = [c['Action'] for c in calls]
    first_assoc = names.index('AssociateAdditionalCertificatesWithListener')
    assert names[names.index('UpdateListenerAttribute'):first_assoc].count('GetListenerAttribute') >= 2
    assert alicloud.admin.listener(lid)['additional'] == {'%s-cn-hangzhou' % old_id: 'Associated'}


def test_signature_v1_stays_available(alicloud, slb_run):
    alicloud.admin.clear_calls()
    res = slb_run(_play(_task('certpilot.tls.alicloud_cas_certificate', alicloud.module_args(
        alicloud_signature_version='v1', describe=True), 'v1')))
    assert res.rc == 0, res.explain()
    assert isinstance(one_result(res, 'v1')['certificates'], list)
    calls = alicloud.admin.calls()
    assert calls and set(c['signature'] for c in calls) == set(['v1'])
    res = slb_run(_play(_task('certpilot.tls.alicloud_cas_certificate', alicloud.module_args(
        alicloud_signature_version='v1', alicloud_secret_key='wrong-v1-%s' % _uid(), describe=True), 'v1 bad')))
    assert res.rc != 0 and 'SignatureDoesNotMatch' in one_result(res, 'v1 bad')['msg']
