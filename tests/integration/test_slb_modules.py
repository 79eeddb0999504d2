# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The three SLB modules, run by ansible-playbook against the fake SLB API."""
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

from slb_api.certs import MiniCa, fingerprint_sha1, key_pem  # noqa: E402
from slb_api.metadata import start_metadata  # noqa: E402
from slb_api.pytest_fixtures import one_result, slb, slb_run  # noqa: E402,F401  pylint: disable=unused-import
from slb_api.testkit import served_cert_der  # noqa: E402

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope='module')
def ca():
    return MiniCa('Integration')


def _uid():
    return uuid.uuid4().hex[:8]


def _files(tmp_path, ca, cn, kind='rsa', key_format='pkcs8', days=90):
    cert, key = ca.issue(cn, kind=kind, days=days)
    chain = tmp_path / ('%s-fullchain.pem' % cn)
    keyfile = tmp_path / ('%s-privkey.pem' % cn)
    chain.write_text(ca.fullchain(cert))
    keyfile.write_text(key_pem(key, key_format))
    keyfile.chmod(0o600)
    return cert, str(chain), str(keyfile)


def _task(module, args, name='step', extra=''):
    return ('- name: %s\n  %s: %s\n  register: out\n%s' % (name, module, json.dumps(args), extra))


def _play(*tasks):
    return '- hosts: localhost\n  gather_facts: false\n  tasks:\n' + '\n'.join(
        '\n'.join('    ' + line for line in t.splitlines()) for t in tasks) + '\n'


def _state(slb):
    state = slb.admin.state()
    state.pop('call_count', None)
    return state


def test_upload_twice_gives_one_certificate_and_pkcs8_is_converted(slb, slb_run, ca, tmp_path):
    cn = 'twice-%s.example.test' % _uid()
    cert, chain, key = _files(tmp_path, ca, cn, key_format='pkcs8')
    args = slb.module_args(certificate_src=chain, private_key_src=key)
    play = _play(_task('certpilot.tls.slb_server_certificate', args, 'upload'))
    first = slb_run(play)
    assert first.rc == 0, first.explain()
    res = one_result(first, 'upload')
    assert res['changed'] and res['uploaded']
    assert res['certificate']['key_converted_to_pkcs1'] is True  # the fake only accepts PKCS#1
    assert res['fingerprint'] == fingerprint_sha1(cert)
    assert res['name'].startswith(cn + '-')
    second = slb_run(play)
    assert second.rc == 0, second.explain()
    res2 = one_result(second, 'upload')
    assert not res2['changed'] and res2['server_certificate_id'] == res['server_certificate_id']
    matching = [c for c in slb.admin.state()['server_certificates'] if c['Fingerprint'] == fingerprint_sha1(cert)]
    assert len(matching) == 1


def test_ec_key_is_refused_clearly(slb, slb_run, ca, tmp_path):
    dummy, chain, key = _files(tmp_path, ca, 'ec-%s.example.test' % _uid(), kind='ec')
    before = len(slb.admin.state()['server_certificates'])
    result = slb_run(_play(_task('certpilot.tls.slb_server_certificate', slb.module_args(
        certificate_src=chain, private_key_src=key), 'upload')))
    assert result.rc != 0
    res = one_result(result, 'upload')
    assert res['failed'] and 'RSA' in res['msg'] and 'EC' in res['msg']
    assert 'Traceback' not in result.stdout + result.stderr
    assert len(slb.admin.state()['server_certificates']) == before


def test_mismatched_key_is_refused(slb, slb_run, ca, tmp_path):
    dummy, chain, dummy_key = _files(tmp_path, ca, 'mm-a-%s.example.test' % _uid())
    dummy, dummy_chain, other_key = _files(tmp_path, ca, 'mm-b-%s.example.test' % _uid())
    result = slb_run(_play(_task('certpilot.tls.slb_server_certificate', slb.module_args(
        certificate_src=chain, private_key_src=other_key), 'upload')))
    res = one_result(result, 'upload')
    assert result.rc != 0 and 'does not match' in res['msg']


def test_switch_default_and_sni_checked_by_handshake(slb, slb_run, ca, tmp_path):
    name = 'int-sw-%s' % _uid()
    lb_id = slb.admin.seed({'load_balancers': [{'LoadBalancerName': name, 'listeners': [
        {'ListenerPort': 443}, {'ListenerPort': 80, 'ListenerProtocol': 'http'}]}]})['load_balancers'][0]
    port = slb.admin.serving_port(lb_id, 443)
    default_cert, chain1, key1 = _files(tmp_path, ca, 'www-%s.example.test' % name)
    sni_cert, chain2, key2 = _files(tmp_path, ca, 'api-%s.example.test' % name)
    sni_domain = 'api-%s.example.test' % name
    before_default = served_cert_der(port)
    play = _play(
        _task('certpilot.tls.slb_server_certificate', slb.module_args(certificate_src=chain1, private_key_src=key1), 'up1'),
        '- ansible.builtin.set_fact:\n    c1: "{{ out.server_certificate_id }}"',
        _task('certpilot.tls.slb_server_certificate', slb.module_args(certificate_src=chain2, private_key_src=key2), 'up2'),
        '- ansible.builtin.set_fact:\n    c2: "{{ out.server_certificate_id }}"',
        _task('certpilot.tls.slb_listener_certificate', slb.module_args(
            load_balancer_name=name, server_certificate_id='{{ c1 }}'), 'switch default'),
        _task('certpilot.tls.slb_listener_certificate', slb.module_args(
            load_balancer_id=lb_id, domain=sni_domain, server_certificate_id='{{ c2 }}'), 'switch sni'),
    )
    result = slb_run(play, extra_args=('--diff',))
    assert result.rc == 0, result.explain()
    sw = one_result(result, 'switch default')
    assert sw['changed'] and sw['previous_server_certificate_id'] != sw['server_certificate_id']
    assert sw['results'][0]['verified'] is True
    assert (sw['switched'], sw['unchanged'], sw['failed_targets']) == (['%s:443' % lb_id], [], [])
    sni = one_result(result, 'switch sni')
    assert sni['changed'] and sni['previous_server_certificate_id'] is None and sni['domain_extension_id']
    assert sni['switched'] == ['%s:443/%s' % (lb_id, sni_domain)] and sni['results'][0]['label'] == sni['switched'][0]
    from cryptography import x509
    served_default = x509.load_der_x509_certificate(served_cert_der(port, 'other.example.test'))
    served_sni = x509.load_der_x509_certificate(served_cert_der(port, sni_domain))
    assert fingerprint_sha1(served_default) == fingerprint_sha1(default_cert)
    assert fingerprint_sha1(served_sni) == fingerprint_sha1(sni_cert)
    assert served_cert_der(port) != before_default
    # rerun converges
    again = slb_run(play)
    assert again.rc == 0, again.explain()
    assert again.changed('localhost') == 0, again.explain()
    assert one_result(again, 'switch default')['unchanged'] == ['%s:443' % lb_id]
    # the HTTP listener and other attributes were never touched
    listener = slb.admin.listener(lb_id, 443)
    assert (listener['Scheduler'], listener['Bandwidth'], listener['TLSCipherPolicy']) == ('wrr', -1, 'tls_cipher_policy_1_0')


def test_check_mode_changes_nothing(slb, slb_run, ca, tmp_path):
    name = 'int-cm-%s' % _uid()
    lb_id = slb.admin.seed({'load_balancers': [{'LoadBalancerName': name, 'listeners': [{'ListenerPort': 443}]}]})['load_balancers'][0]
    dummy, chain, key = _files(tmp_path, ca, 'cm-%s.example.test' % name)
    existing = slb.admin.listener(lb_id, 443)['ServerCertificateId']
    before = _state(slb)
    play = _play(
        _task('certpilot.tls.slb_server_certificate', slb.module_args(certificate_src=chain, private_key_src=key,
                                                                      prune={'name_prefix': 'seed-', 'keep': 0}), 'upload'),
        _task('certpilot.tls.slb_listener_certificate', slb.module_args(
            load_balancer_id=lb_id, server_certificate_id=existing, domain='x.%s.example.test' % name), 'switch'),
    )
    result = slb_run(play, check=True)
    assert result.rc == 0, result.explain()
    assert one_result(result, 'upload')['changed'] and one_result(result, 'switch')['changed']
    assert _state(slb) == before


def test_prune_keeps_certificates_in_use(slb, slb_run, ca, tmp_path):
    name = 'int-pr-%s' % _uid()
    lb_id = slb.admin.seed({'load_balancers': [{'LoadBalancerName': name, 'listeners': [{'ListenerPort': 443}]}]})['load_balancers'][0]
    ids = []
    for days in (20, 40, 60):
        dummy, chain, key = _files(tmp_path, ca, 'pr%d-%s.example.test' % (days, name), days=days)
        res = slb_run(_play(_task('certpilot.tls.slb_server_certificate', slb.module_args(
            certificate_src=chain, private_key_src=key, name='%s-%d' % (name, days)), 'up')))
        assert res.rc == 0, res.explain()
        ids.append(one_result(res, 'up')['server_certificate_id'])
    # the oldest is used by the listener, the middle one by an SNI domain
    res = slb_run(_play(
        _task('certpilot.tls.slb_listener_certificate', slb.module_args(load_balancer_id=lb_id, server_certificate_id=ids[0]), 'a'),
        _task('certpilot.tls.slb_listener_certificate', slb.module_args(load_balancer_id=lb_id, server_certificate_id=ids[1],
                                                                        domain='sni.%s.example.test' % name), 'b')))
    assert res.rc == 0, res.explain()
    dummy, chain, key = _files(tmp_path, ca, 'pr80-%s.example.test' % name, days=80)
    res = slb_run(_play(_task('certpilot.tls.slb_server_certificate', slb.module_args(
        certificate_src=chain, private_key_src=key, name='%s-80' % name, prune={'name_prefix': name + '-', 'keep': 1}), 'prune')))
    assert res.rc == 0, res.explain()
    pruned = one_result(res, 'prune')
    assert pruned['deleted'] == [ids[2]]
    left = set(c['ServerCertificateId'] for c in slb.admin.state()['server_certificates'])
    assert ids[0] in left and ids[1] in left and ids[2] not in left and pruned['server_certificate_id'] in left


def test_throttling_is_retried(slb, slb_run):
    slb.admin.faults(throttle_next=2, actions=['DescribeServerCertificates'])
    try:
        res = slb_run(_play(_task('certpilot.tls.slb_certificate_info', slb.module_args(include_usage=False), 'info')))
    finally:
        slb.admin.faults(throttle_next=0, actions=None)
    assert res.rc == 0, res.explain()
    assert isinstance(one_result(res, 'info')['certificates'], list)
    assert slb.admin.state()['faults']['throttle_next'] == 0  # both throttles were consumed, then it succeeded


def test_wrong_secret_is_a_clear_error(slb, slb_run):
    res = slb_run(_play(_task('certpilot.tls.slb_certificate_info', slb.module_args(alicloud_secret_key='bad-secret-xyz'), 'info')))
    assert res.rc != 0
    out = one_result(res, 'info')
    assert 'SignatureDoesNotMatch' in out['msg'] and out['error_code'] == 'SignatureDoesNotMatch'
    assert 'bad-secret-xyz' not in res.stdout + res.stderr
    assert 'Traceback' not in res.stdout + res.stderr


def test_info_reports_usage_and_days(slb, slb_run, ca, tmp_path):
    name = 'int-info-%s' % _uid()
    lb_id = slb.admin.seed({'load_balancers': [{'LoadBalancerName': name, 'listeners': [{'ListenerPort': 443}]}]})['load_balancers'][0]
    res = slb_run(_play(_task('certpilot.tls.slb_certificate_info', slb.module_args(), 'info')), check=True)
    assert res.rc == 0, res.explain()
    certs = one_result(res, 'info')['certificates']
    seed_id = slb.admin.listener(lb_id, 443)['ServerCertificateId']
    mine = [c for c in certs if c['server_certificate_id'] == seed_id][0]
    assert mine['used_by'] == [{'load_balancer_id': lb_id, 'load_balancer_name': name, 'listener_port': 443,
                                'domain': None, 'domain_extension_id': None}]
    assert 28 <= mine['days_remaining'] <= 30


def test_credentials_from_env(slb, slb_run):
    env = {'ALICLOUD_ACCESS_KEY': slb.access_key, 'ALICLOUD_SECRET_KEY': slb.secret_key,
           'ALICLOUD_REGION': slb.region, 'ALICLOUD_SLB_ENDPOINT': slb.endpoint}
    res = slb_run(_play(_task('certpilot.tls.slb_certificate_info', {'include_usage': False}, 'info')), env=env)
    assert res.rc == 0, res.explain()
    assert one_result(res, 'info')['region'] == slb.region


def test_credentials_from_profile_file(slb, slb_run, tmp_path):
    config = tmp_path / 'aliyun.json'
    config.write_text(json.dumps({'current': 'other', 'profiles': [
        {'name': 'other', 'mode': 'AK', 'access_key_id': 'nope', 'access_key_secret': 'nope', 'region_id': 'x'},
        {'name': 'slbtest', 'mode': 'AK', 'access_key_id': slb.access_key, 'access_key_secret': slb.secret_key,
         'region_id': slb.region}]}))
    args = {'profile': 'slbtest', 'shared_credentials_file': str(config), 'alicloud_endpoint': slb.endpoint,
            'include_usage': False}
    res = slb_run(_play(_task('certpilot.tls.slb_certificate_info', args, 'info')))
    assert res.rc == 0, res.explain()
    assert one_result(res, 'info')['region'] == slb.region
    # the file's "current" profile is used without "profile", and here it is wrong
    args.pop('profile')
    res = slb_run(_play(_task('certpilot.tls.slb_certificate_info', args, 'info')))
    assert res.rc != 0 and 'InvalidAccessKeyId.NotFound' in one_result(res, 'info')['msg']


def test_credentials_from_metadata_server(slb, slb_run):
    sts_ak, sts_secret, sts_token = 'STS.%s' % _uid(), 'sts-secret-%s' % _uid(), 'sts-token-%s' % _uid()
    slb.admin.add_access_key(sts_ak, sts_secret, sts_token)
    httpd, url = start_metadata('CertpilotSlb', sts_ak, sts_secret, sts_token)
    try:
        args = {'ecs_role_name': 'CertpilotSlb', 'alicloud_metadata_url': url, 'alicloud_region': slb.region,
                'alicloud_endpoint': slb.endpoint, 'include_usage': False}
        res = slb_run(_play(_task('certpilot.tls.slb_certificate_info', args, 'info')))
        assert res.rc == 0, res.explain()
        assert httpd.meta['token_requests'] >= 1 and httpd.meta['credential_requests'] >= 1
    finally:
        httpd.shutdown()
        httpd.server_close()
    # the fake insists on the STS token for that key: without it the call is refused
    no_token = dict(slb.module_args(include_usage=False), alicloud_access_key=sts_ak, alicloud_secret_key=sts_secret)
    res = slb_run(_play(_task('certpilot.tls.slb_certificate_info', no_token, 'info')))
    assert res.rc != 0 and 'InvalidSecurityToken' in one_result(res, 'info')['msg']


def test_nothing_secret_in_vvv_output(slb, slb_run, ca, tmp_path):
    name = 'int-log-%s' % _uid()
    lb_id = slb.admin.seed({'load_balancers': [{'LoadBalancerName': name, 'listeners': [{'ListenerPort': 443}]}]})['load_balancers'][0]
    cert, key_obj = ca.issue('log-%s.example.test' % name)
    pkcs8 = key_pem(key_obj, 'pkcs8')
    pkcs1 = key_pem(key_obj, 'pkcs1')
    play = _play(
        _task('certpilot.tls.slb_server_certificate', slb.module_args(
            certificate=ca.fullchain(cert), private_key=pkcs8), 'upload'),
        _task('certpilot.tls.slb_listener_certificate', slb.module_args(
            load_balancer_id=lb_id, server_certificate_id='{{ out.server_certificate_id }}'), 'switch'),
        _task('certpilot.tls.slb_certificate_info', slb.module_args(), 'info'),
    )
    res = slb_run(play, extra_args=('-vvv', '--diff'))
    assert res.rc == 0, res.explain()
    text = res.stdout + res.stderr + json.dumps(res.results)
    assert slb.secret_key not in text
    for pem_text in (pkcs8, pkcs1):
        body = [line for line in pem_text.splitlines() if not line.startswith('-----')]
        for line in body:
            assert line not in text
    # the verbose output really carried the module results (so the checks above looked at something)
    assert one_result(res, 'upload')['fingerprint'] in res.stdout
    assert '"server_certificate_id"' in res.stdout
