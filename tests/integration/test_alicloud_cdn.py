# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cdn_domain_certificate, run by ansible-playbook against the fake CAS + CDN API (HTTPS by host name,
signature V3): upload to CAS -> set CDN domains in bulk (one bad domain fails alone, named) -> read back ->
second run changed=0 -> check mode -> diff -> CAS prune skips what a CDN domain uses; the bad-input cases."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
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
    return MiniCa('CDN Integration')


def _uid():
    return uuid.uuid4().hex[:8]


def _files(tmp_path, ca, cn, kind='rsa', days=90):
    cert, key = ca.issue(cn, kind=kind, days=days)
    chain = tmp_path / ('%s-fullchain.pem' % cn)
    keyfile = tmp_path / ('%s-privkey.pem' % cn)
    chain.write_text(ca.fullchain(cert))
    keyfile.write_text(key_pem(key, 'pkcs8'))
    keyfile.chmod(0o600)
    return cert, str(chain), str(keyfile)


def _task(module, args, name='step', extra=''):
    return '- name: %s\n  %s: %s\n  register: out\n%s' % (name, module, json.dumps(args), extra)


def _play(*tasks):
    return '- hosts: localhost\n  gather_facts: false\n  tasks:\n' + '\n'.join(
        '\n'.join('    ' + line for line in t.splitlines()) for t in tasks) + '\n'


def _fp(cert):
    return fingerprint_sha256(cert).replace(':', '')


def _domains(alicloud, count, **extra):
    names = ['cdn%d-%s.example.test' % (n, _uid()) for n in range(count)]
    alicloud.admin.seed({'cdn_domains': [dict(extra, DomainName=name) for name in names]})
    return names


def _seed_cert(alicloud, chain, key, name):
    return alicloud.admin.seed({'certificates': [{'Cert': open(chain).read(), 'Key': open(key).read(),
                                                  'Name': name}]})['certificates'][0]


def _secret_lines(path):
    """Lines of the key as given (PKCS#8) and as sent (traditional PEM) that must never show up."""
    from cryptography.hazmat.primitives import serialization
    text = open(path).read()
    sent = serialization.load_pem_private_key(text.encode(), None).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()).decode()
    return [line for pem_text in (text, sent) for line in pem_text.splitlines()[1:3]]


def test_upload_set_bulk_read_back_idempotence_check_diff_and_prune(alicloud, slb_run, ca, tmp_path):
    prefix = 'cdn-%s-' % _uid()
    old_cert, old_chain, old_key = _files(tmp_path, ca, 'old-%s.example.test' % _uid(), days=30)
    old_id = _seed_cert(alicloud, old_chain, old_key, prefix + 'old')
    first, second = _domains(alicloud, 2, CertId=old_id)
    bare, = _domains(alicloud, 1)  # HTTPS off so far
    missing = 'missing-%s.example.test' % _uid()
    new_cert, new_chain, new_key = _files(tmp_path, ca, 'www-%s.example.test' % _uid())
    alicloud.admin.clear_calls()

    def play(domains, prune=False):
        tasks = [
            _task('certpilot.tls.alicloud_cas_certificate', alicloud.module_args(
                certificate_src=new_chain, private_key_src=new_key, name=prefix + 'new'), 'upload'),
            _task('certpilot.tls.cdn_domain_certificate', alicloud.module_args(
                domains=[{'domain_name': d, 'certificate_id': '{{ upload.certificate_id }}'} for d in domains],
                concurrency=2, wait_timeout=30), 'cdn'),
        ]
        tasks[0] = tasks[0].replace('register: out', 'register: upload')
        if prune:
            tasks.append(_task('certpilot.tls.alicloud_cas_certificate', alicloud.module_args(
                prune={'name_prefix': prefix, 'keep': 0}, describe=True, describe_name_prefix=prefix), 'prune'))
        return _play(*tasks)

    # bulk with one unknown domain: that one fails alone and is named, the others are switched
    res = slb_run(play([first, missing, second, bare]), extra_args=['--diff'])
    out = one_result(res, 'cdn')
    assert out['failed'] is True
    assert [f['domain_name'] for f in out['failed_items']] == [missing]
    failure = out['failed_items'][0]
    assert failure['error_code'] == 'InvalidDomain.NotFound' and failure['request_id'] in failure['msg']
    assert missing in out['msg'] and '1 of 4' in out['msg']
    new_id = one_result(res, 'upload')['certificate_id']
    by_name = dict((r['domain_name'], r) for r in out['results'])
    for name in (first, second, bare):
        assert by_name[name]['changed'] and by_name[name]['verified'] is True
        assert by_name[name]['current']['certificate_id'] == new_id
        assert by_name[name]['current']['fingerprint_sha256'] == _fp(new_cert)
        # the fake ("the cloud") itself, not only the module's read-back
        domain = alicloud.admin.cdn_domain(name)
        assert domain['https']['CertType'] == 'cas' and domain['https']['CertId'] == new_id
        assert domain['served_sha256'] == _fp(new_cert)
    assert by_name[first]['previous']['certificate_id'] == str(old_id)
    assert by_name[first]['previous']['fingerprint_sha256'] == _fp(old_cert)
    assert by_name[bare]['previous']['ssl_protocol'] == 'off'
    # diff: before / after per domain
    assert out['diff']['before']['cdn_domains'][first]['certificate_id'] == str(old_id)
    assert out['diff']['after']['cdn_domains'][first]['certificate_id'] == new_id
    sets = [c for c in alicloud.admin.calls() if c['Action'] == 'SetCdnDomainSSLCertificate']
    assert sorted(c['params']['DomainName'] for c in sets) == sorted([first, second, bare])
    assert all(sorted(c['params']) == ['CertId', 'CertRegion', 'CertType', 'DomainName', 'SSLProtocol'] for c in sets)
    assert all(c['signature'] == 'v3' for c in alicloud.admin.calls())

    # second run: nothing changes, nothing is sent; prune keeps what a CDN domain uses
    alicloud.admin.clear_calls()
    res = slb_run(play([first, second, bare], prune=True))
    assert res.rc == 0, res.explain()
    assert one_result(res, 'cdn')['changed'] is False
    assert [r['changed'] for r in one_result(res, 'cdn')['results']] == [False, False, False]
    assert not [c for c in alicloud.admin.calls() if c['Action'] == 'SetCdnDomainSSLCertificate']
    pruned = one_result(res, 'prune')
    assert pruned['deleted'] == [str(old_id)]  # the old one: nothing uses it any more
    assert alicloud.admin.certificate(new_id) is not None
    described = dict((c['certificate_id'], c) for c in pruned['certificates'])
    assert sorted(u['domain'] for u in described[new_id]['used_by'] if u['cloud_product'] == 'CDN') == sorted(
        [first, second, bare])

    # a CAS certificate a CDN domain uses is never pruned, and CAS refuses to delete it
    other_cert, other_chain, other_key = _files(tmp_path, ca, 'other-%s.example.test' % _uid())
    in_use = _seed_cert(alicloud, other_chain, other_key, prefix + 'in-use')
    lone, = _domains(alicloud, 1, CertId=in_use)
    res = slb_run(_play(_task('certpilot.tls.alicloud_cas_certificate', alicloud.module_args(
        prune={'name_prefix': prefix, 'keep': 0}), 'prune again')))
    assert res.rc == 0, res.explain()
    assert str(in_use) not in one_result(res, 'prune again')['deleted']
    assert alicloud.admin.certificate(in_use) is not None
    res = slb_run(_play(_task('certpilot.tls.alicloud_cas_certificate', alicloud.module_args(
        state='absent', certificate_ids=[str(in_use)]), 'delete in use')))
    assert res.rc != 0 and one_result(res, 'delete in use')['error_code'] == 'CertificateInUse'
    assert alicloud.admin.cdn_domain(lone)['https']['CertId'] == str(in_use)

    # check mode: would switch first back to the in-use certificate; nothing is sent, nothing changes
    alicloud.admin.clear_calls()
    res = slb_run(_play(_task('certpilot.tls.cdn_domain_certificate', alicloud.module_args(
        domain_name=first, certificate_id=str(in_use)), 'check')), check=True, extra_args=['--diff'])
    assert res.rc == 0, res.explain()
    out = one_result(res, 'check')
    assert out['changed'] is True and out['current']['certificate_id'] == str(in_use)
    assert out['previous']['certificate_id'] == new_id
    assert out['diff']['after']['cdn_domains'][first]['certificate_id'] == str(in_use)
    assert [c['Action'] for c in alicloud.admin.calls()] == ['DescribeDomainCertificateInfo']
    assert alicloud.admin.cdn_domain(first)['https']['CertId'] == new_id


def test_upload_form_accepts_ec_and_never_shows_the_key(alicloud, slb_run, ca, tmp_path):
    # CDN, like CAS, takes ECDSA certificates (RSA is required by CLB only): EC is accepted here.
    domain, = _domains(alicloud, 1)
    cert, chain, key = _files(tmp_path, ca, 'ec-%s.example.test' % _uid(), kind='ec')
    play = _play(_task('certpilot.tls.cdn_domain_certificate', alicloud.module_args(
        domain_name=domain, certificate_src=chain, private_key_src=key, certificate_name='ec-upload', wait_timeout=30),
        'upload'))
    res = slb_run(play, extra_args=['-vvv', '--diff'])
    assert res.rc == 0, res.explain()
    out = one_result(res, 'upload')
    assert out['changed'] and out['current']['certificate_type'] == 'upload'
    assert out['current']['fingerprint_sha256'] == _fp(cert) and out['current']['certificate_name'] == 'ec-upload'
    assert alicloud.admin.cdn_domain(domain)['served_sha256'] == _fp(cert)
    for line in _secret_lines(key):
        assert line not in res.stdout + res.stderr
    assert alicloud.secret_key not in res.stdout + res.stderr
    sent = [c for c in alicloud.admin.calls() if c['Action'] == 'SetCdnDomainSSLCertificate'][-1]
    assert sent['params']['SSLPri'] == '<redacted>' and 'SSLPri' not in sent['in_query']  # in the body, not the URL
    # same certificate again, by upload: recognised by its fingerprint, nothing sent
    alicloud.admin.clear_calls()
    res = slb_run(play)
    assert res.rc == 0, res.explain()
    assert one_result(res, 'upload')['changed'] is False
    assert [c['Action'] for c in alicloud.admin.calls()] == ['DescribeDomainCertificateInfo']


def test_bad_inputs_fail_per_domain(alicloud, slb_run, ca, tmp_path):
    good, other = _domains(alicloud, 2)
    cert, chain, key = _files(tmp_path, ca, 'bad-%s.example.test' % _uid())
    dummy, dummy_chain, wrong_key = _files(tmp_path, ca, 'wrong-%s.example.test' % _uid())
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from slb_api.certs import make_cert, cert_pem
    ed = ed25519.Ed25519PrivateKey.generate()
    ed_cert = make_cert('ed-%s.example.test' % _uid(), ed, ca.intermediate, ca.int_key)
    ed_key = ed.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()
    alicloud.admin.clear_calls()
    res = slb_run(_play(_task('certpilot.tls.cdn_domain_certificate', alicloud.module_args(domains=[
        {'domain_name': good, 'certificate_src': chain, 'private_key_src': key},
        {'domain_name': other, 'certificate_id': '99999999'},
        {'domain_name': other.replace('cdn', 'nx'), 'certificate_src': chain, 'private_key_src': wrong_key},
        {'domain_name': 'ed-' + good, 'certificate': cert_pem(ed_cert), 'private_key': ed_key},
    ], wait_timeout=30), 'bulk')))
    assert res.rc != 0
    out = one_result(res, 'bulk')
    failed = dict((f['domain_name'], f) for f in out['failed_items'])
    assert sorted(failed) == sorted([other, other.replace('cdn', 'nx'), 'ed-' + good])
    assert failed[other]['error_code'] == 'InvalidCertificate.NotFound' and failed[other]['request_id']
    assert 'does not match the certificate' in failed[other.replace('cdn', 'nx')]['msg']
    assert 'Ed25519' in failed['ed-' + good]['msg']
    # the good one went through; the refused ones sent nothing
    assert alicloud.admin.cdn_domain(good)['served_sha256'] == _fp(cert)
    sets = [c['params']['DomainName'] for c in alicloud.admin.calls() if c['Action'] == 'SetCdnDomainSSLCertificate']
    assert sorted(sets) == sorted([good, other])
    assert ed_key.splitlines()[1] not in res.stdout + res.stderr
    # bad domain name syntax: refused before anything is sent
    res = slb_run(_play(_task('certpilot.tls.cdn_domain_certificate', alicloud.module_args(
        domain_name='not a domain', certificate_id='1'), 'syntax')))
    assert res.rc != 0 and 'not a valid CDN domain name' in one_result(res, 'syntax')['msg']


def test_bad_secret_gives_signature_does_not_match_with_request_id(alicloud, slb_run):
    domain, = _domains(alicloud, 1)
    res = slb_run(_play(_task('certpilot.tls.cdn_domain_certificate', alicloud.module_args(
        alicloud_secret_key='wrong-secret-%s' % _uid(), domain_name=domain, certificate_id='1'), 'bad secret')))
    assert res.rc != 0
    out = one_result(res, 'bad secret')
    failure = out['failed_items'][0]
    assert failure['error_code'] == 'SignatureDoesNotMatch'
    assert re.search(r'RequestId: [0-9A-F-]{36}', out['msg']) and failure['request_id'] in out['msg']
    assert 'wrong-secret' not in res.stdout + res.stderr


def test_throttling_is_retried(alicloud, slb_run, ca, tmp_path):
    domain, = _domains(alicloud, 1)
    cert, chain, key = _files(tmp_path, ca, 'throttle-%s.example.test' % _uid())
    cid = _seed_cert(alicloud, chain, key, 'throttle-%s' % _uid())
    alicloud.admin.faults(throttle_next=2, actions=['SetCdnDomainSSLCertificate'])
    alicloud.admin.clear_calls()
    try:
        res = slb_run(_play(_task('certpilot.tls.cdn_domain_certificate', alicloud.module_args(
            domain_name=domain, certificate_id=str(cid), wait_timeout=30), 'throttled')))
    finally:
        alicloud.admin.faults(throttle_next=0, actions=None)
    assert res.rc == 0, res.explain()
    assert len([c for c in alicloud.admin.calls() if c['Action'] == 'SetCdnDomainSSLCertificate']) == 3
    assert alicloud.admin.cdn_domain(domain)['https']['CertId'] == str(cid)
