# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The certpilot.tls.slb_rotate role / playbook against the fake SLB API (real TLS handshakes)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys
import uuid

import pytest

FAKES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'fakes')
if FAKES not in sys.path:
    sys.path.insert(0, FAKES)

from slb_api.certs import MiniCa, fingerprint_sha1, key_pem  # noqa: E402
from slb_api.pytest_fixtures import REPO, one_result, slb, slb_run  # noqa: E402,F401  pylint: disable=unused-import
from slb_api.testkit import served_cert_der  # noqa: E402

pytestmark = pytest.mark.timeout(600)
PLAYBOOK = os.path.join(REPO, 'playbooks', 'slb_rotate.yml')


@pytest.fixture(scope='module')
def ca():
    return MiniCa('Rotate')


def _store(tmp_path, ca, name, days=90):
    cert, key = ca.issue('%s.example.test' % name, sans=['%s.example.test' % name, 'api.%s.example.test' % name], days=days)
    entry = tmp_path / 'store' / name
    entry.mkdir(parents=True, exist_ok=True)
    (entry / 'fullchain.pem').write_text(ca.fullchain(cert))
    (entry / 'privkey.pem').write_text(key_pem(key, 'pkcs8'))
    (entry / 'privkey.pem').chmod(0o600)
    return cert, str(tmp_path / 'store')


def _vars(slb, store, name, targets, **extra):
    data = {'slb_rotate_store': store, 'slb_rotate_certificate_name': name, 'slb_rotate_targets': targets,
            'slb_rotate_alicloud_access_key': slb.access_key, 'slb_rotate_alicloud_secret_key': slb.secret_key,
            'slb_rotate_alicloud_region': slb.region, 'slb_rotate_alicloud_endpoint': slb.endpoint}
    data.update(extra)
    return data


def _rotate_result(result):
    return one_result(result, 'Show the rotation result')['slb_rotate_result']


def test_rotate_switches_verifies_prunes_and_converges(slb, slb_run, ca, tmp_path):
    name = 'rot-%s' % uuid.uuid4().hex[:8]
    lb_ids = slb.admin.seed({'load_balancers': [
        {'LoadBalancerName': name + '-a', 'listeners': [{'ListenerPort': 443}]},
        {'LoadBalancerName': name + '-b', 'listeners': [{'ListenerPort': 443}, {'ListenerPort': 8443}]},
    ]})['load_balancers']
    a_port = slb.admin.serving_port(lb_ids[0], 443)
    b_port = slb.admin.serving_port(lb_ids[1], 8443)
    old_cert, store = _store(tmp_path, ca, name, days=30)
    targets = [
        {'load_balancer': lb_ids[0], 'port': 443, 'verify_host': '127.0.0.1', 'verify_port': a_port},
        {'load_balancer': name + '-b', 'port': 8443, 'domain': 'api.%s.example.test' % name,
         'verify_host': '127.0.0.1', 'verify_port': b_port},
    ]
    first = slb_run(PLAYBOOK, extra_vars=_vars(slb, store, name, targets))
    assert first.rc == 0, first.explain()
    res = _rotate_result(first)
    assert [s['load_balancer_id'] for s in res['switched']] == lb_ids and res['failed'] == []
    assert [h['status'] for h in res['handshakes']] == ['ok', 'ok'], res['handshakes']
    old_id = res['server_certificate_id']

    # a renewal: new certificate in the store, rotate again
    new_cert, store = _store(tmp_path, ca, name, days=60)
    second = slb_run(PLAYBOOK, extra_vars=_vars(slb, store, name, targets, slb_rotate_prune_keep=1))
    assert second.rc == 0, second.explain()
    res2 = _rotate_result(second)
    assert res2['uploaded'] and res2['server_certificate_id'] != old_id
    assert [s['previous_server_certificate_id'] for s in res2['switched']] == [old_id, old_id]
    assert res2['pruned'] == [old_id]  # no longer used anywhere, older than the one kept
    from cryptography import x509
    served_a = x509.load_der_x509_certificate(served_cert_der(a_port))
    served_b = x509.load_der_x509_certificate(served_cert_der(b_port, 'api.%s.example.test' % name))
    assert fingerprint_sha1(served_a) == fingerprint_sha1(new_cert) == fingerprint_sha1(served_b)
    assert fingerprint_sha1(served_a) != fingerprint_sha1(old_cert)
    # the seeded certificate of listener b:443 is still in use there: never pruned (name prefix differs anyway)

    third = slb_run(PLAYBOOK, extra_vars=_vars(slb, store, name, targets, slb_rotate_prune_keep=1))
    assert third.rc == 0, third.explain()
    res3 = _rotate_result(third)
    assert res3['switched'] == [] and len(res3['unchanged']) == 2 and res3['pruned'] == []
    assert third.changed('localhost') == 0, third.explain()


def test_partial_failure_reports_exactly_which_targets_moved(slb, slb_run, ca, tmp_path):
    name = 'rotp-%s' % uuid.uuid4().hex[:8]
    lb_id = slb.admin.seed({'load_balancers': [{'LoadBalancerName': name, 'listeners': [{'ListenerPort': 443}]}]})['load_balancers'][0]
    dummy, store = _store(tmp_path, ca, name)
    targets = [{'load_balancer': lb_id, 'port': 443}, {'load_balancer': lb_id, 'port': 9443},
               {'load_balancer': 'no-such-lb-%s' % name}]
    before = slb.admin.state()['server_certificates']
    result = slb_run(PLAYBOOK, extra_vars=_vars(slb, store, name, targets))
    assert result.rc != 0
    failed_task = one_result(result, 'Stop when a target failed or serves another certificate')
    assert '%s:443' % lb_id in failed_task['msg'] and '9443' in failed_task['msg'] and 'no-such-lb' in failed_task['msg']
    res = one_result(result, 'Record which targets moved')['ansible_facts']['slb_rotate_result']
    assert [s['target'] for s in res['switched']] == ['%s:443' % lb_id]
    assert sorted(f['target'] for f in res['failed']) == sorted(['%s:9443' % lb_id, 'no-such-lb-%s:443' % name])
    # nothing was pruned after a partial failure
    after_ids = set(c['ServerCertificateId'] for c in slb.admin.state()['server_certificates'])
    assert set(c['ServerCertificateId'] for c in before) <= after_ids


def test_rotate_check_mode_changes_nothing(slb, slb_run, ca, tmp_path):
    name = 'rotc-%s' % uuid.uuid4().hex[:8]
    lb_id = slb.admin.seed({'load_balancers': [{'LoadBalancerName': name, 'listeners': [{'ListenerPort': 443}]}]})['load_balancers'][0]
    dummy, store = _store(tmp_path, ca, name)
    state = slb.admin.state()
    state.pop('call_count')
    result = slb_run(PLAYBOOK, extra_vars=_vars(slb, store, name, [{'load_balancer': lb_id}]), check=True)
    assert result.rc == 0, result.explain()
    assert _rotate_result(result)['check_mode_pending'] is True
    after = slb.admin.state()
    after.pop('call_count')
    assert after == state


def test_rotate_secret_not_in_vvv_output(slb, slb_run, ca, tmp_path):
    name = 'rotv-%s' % uuid.uuid4().hex[:8]
    lb_id = slb.admin.seed({'load_balancers': [{'LoadBalancerName': name, 'listeners': [{'ListenerPort': 443}]}]})['load_balancers'][0]
    dummy, store = _store(tmp_path, ca, name)
    key_lines = [line for line in open(os.path.join(store, name, 'privkey.pem')).read().splitlines() if not line.startswith('-----')]
    result = slb_run(PLAYBOOK, extra_vars=_vars(slb, store, name, [{'load_balancer': lb_id}]), extra_args=('-vvv',))
    assert result.rc == 0, result.explain()
    text = result.stdout + result.stderr
    assert slb.secret_key not in text
    assert not [line for line in key_lines if line in text]
    assert _rotate_result(result)['server_certificate_id'] in text


def test_handshake_mismatch_fails_and_skips_prune(slb, slb_run, ca, tmp_path):
    """The TLS check really compares: point the check at a listener that serves another certificate."""
    name = 'rotm-%s' % uuid.uuid4().hex[:8]
    lb_ids = slb.admin.seed({'load_balancers': [{'LoadBalancerName': name + '-a', 'listeners': [{'ListenerPort': 443}]},
                                                {'LoadBalancerName': name + '-b', 'listeners': [{'ListenerPort': 443}]}]})['load_balancers']
    other_port = slb.admin.serving_port(lb_ids[1], 443)  # still serves its seed certificate
    dummy, store = _store(tmp_path, ca, name)
    targets = [{'load_balancer': lb_ids[0], 'verify_host': '127.0.0.1', 'verify_port': other_port}]
    result = slb_run(PLAYBOOK, extra_vars=_vars(slb, store, name, targets))
    assert result.rc != 0
    msg = one_result(result, 'Stop when a target failed or serves another certificate')['msg']
    assert 'wrong certificate served' in msg and '%s:443' % lb_ids[0] in msg.split('wrong certificate served')[1]
    prune = one_result(result, 'Prune older certificates that nothing uses any more') if any(
        t['task']['name'].endswith('Prune older certificates that nothing uses any more') for t in result.tasks()) else None
    assert prune is None


def test_rotate_with_credentials_from_environment(slb, slb_run, ca, tmp_path):
    name = 'rote-%s' % uuid.uuid4().hex[:8]
    lb_id = slb.admin.seed({'load_balancers': [{'LoadBalancerName': name, 'listeners': [{'ListenerPort': 443}]}]})['load_balancers'][0]
    cert, store = _store(tmp_path, ca, name)
    extra = {'slb_rotate_store': store, 'slb_rotate_certificate_name': name, 'slb_rotate_targets': [{'load_balancer': name}]}
    env = {'ALICLOUD_ACCESS_KEY': slb.access_key, 'ALICLOUD_SECRET_KEY': slb.secret_key, 'ALICLOUD_REGION': slb.region,
           'ALICLOUD_SLB_ENDPOINT': slb.endpoint}
    result = slb_run(PLAYBOOK, extra_vars=extra, env=env)
    assert result.rc == 0, result.explain()
    res = _rotate_result(result)
    assert [s['load_balancer_id'] for s in res['switched']] == [lb_id]
    assert slb.admin.listener(lb_id, 443)['ServerCertificateId'] == res['server_certificate_id']
    assert res['fingerprint'] == fingerprint_sha1(cert)
