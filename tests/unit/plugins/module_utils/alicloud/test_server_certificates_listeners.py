# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/alicloud server_certificates and listeners against the in-process fake SLB API."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import listeners
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import server_certificates
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import slb
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.connection import build_api
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError

pytestmark = pytest.mark.timeout(120)


def _api(fake, **extra):
    params = {'alicloud_access_key': 'testid', 'alicloud_secret_key': 'testsecret', 'alicloud_region': 'cn-hangzhou',
              'alicloud_endpoint': fake.endpoint, 'retries': 4, 'timeout': 60}
    params.update(extra)
    return build_api(params)


def _issue(mini_ca, cn):
    from slb_api.certs import key_pem
    cert, key = mini_ca.issue(cn)
    return cert, mini_ca.fullchain(cert), key_pem(key, 'pkcs8')


def test_upload_is_idempotent_by_fingerprint(fake_slb, mini_ca):
    api = _api(fake_slb)
    dummy, chain, key = _issue(mini_ca, 'idem.example.test')
    first = server_certificates.ensure_certificate(api, chain, key)
    second = server_certificates.ensure_certificate(api, chain, key, name='another-name')
    assert first['changed'] and first['uploaded']
    assert not second['changed'] and not second['uploaded']
    assert second['server_certificate_id'] == first['server_certificate_id']
    certs = fake_slb.admin_client.state()['server_certificates']
    assert [c['Fingerprint'] for c in certs].count(first['fingerprint']) == 1


def test_check_mode_upload_changes_nothing(fake_slb, mini_ca):
    api = _api(fake_slb)
    dummy, chain, key = _issue(mini_ca, 'check.example.test')
    before = fake_slb.admin_client.state()['server_certificates']
    result = server_certificates.ensure_certificate(api, chain, key, check_mode=True)
    assert result['changed'] and result['server_certificate_id'] is None
    assert fake_slb.admin_client.state()['server_certificates'] == before


def test_switch_sends_only_the_certificate_and_verifies(fake_slb, mini_ca):
    admin = fake_slb.admin_client
    lb_id = admin.seed({'load_balancers': [{'LoadBalancerName': 'unit-web', 'listeners': [{'ListenerPort': 443}]}]})['load_balancers'][0]
    api = _api(fake_slb)
    dummy, chain, key = _issue(mini_ca, 'switch.example.test')
    cert_id = server_certificates.ensure_certificate(api, chain, key)['server_certificate_id']
    old = admin.listener(lb_id, 443)
    admin.clear_calls()
    results, failed = listeners.switch_targets(api, [{'load_balancer_name': 'unit-web', 'listener_port': 443}], cert_id)
    assert not failed and results[0]['changed'] and results[0]['verified']
    assert results[0]['previous_server_certificate_id'] == old['ServerCertificateId']
    sets = [c for c in admin.calls() if c['Action'] == 'SetLoadBalancerHTTPSListenerAttribute']
    assert len(sets) == 1
    assert sorted(sets[0]['params']) == ['ListenerPort', 'LoadBalancerId', 'RegionId', 'ServerCertificateId']
    new = admin.listener(lb_id, 443)
    assert new['ServerCertificateId'] == cert_id
    untouched = dict((k, v) for k, v in old.items() if k != 'ServerCertificateId')
    assert dict((k, v) for k, v in new.items() if k != 'ServerCertificateId') == untouched
    # second time: nothing to do, no write call
    admin.clear_calls()
    results, failed = listeners.switch_targets(api, [{'load_balancer_id': lb_id, 'listener_port': 443}], cert_id)
    assert not results[0]['changed']
    assert not [c for c in admin.calls() if c['Action'].startswith('Set')]


def test_domain_extension_created_then_updated(fake_slb, mini_ca):
    admin = fake_slb.admin_client
    lb_id = admin.seed({'load_balancers': [{'LoadBalancerName': 'unit-sni', 'listeners': [{'ListenerPort': 443}]}]})['load_balancers'][0]
    api = _api(fake_slb)
    one = server_certificates.ensure_certificate(api, *_issue(mini_ca, 'a.sni.example.test')[1:])['server_certificate_id']
    two = server_certificates.ensure_certificate(api, *_issue(mini_ca, 'b.sni.example.test')[1:])['server_certificate_id']
    target = {'load_balancer_id': lb_id, 'listener_port': 443, 'domain': 'a.sni.example.test'}
    res, dummy = listeners.switch_targets(api, [target], one)
    assert res[0]['changed'] and res[0]['previous_server_certificate_id'] is None and res[0]['domain_extension_id']
    res2, dummy = listeners.switch_targets(api, [target], two)
    assert res2[0]['previous_server_certificate_id'] == one
    assert res2[0]['domain_extension_id'] == res[0]['domain_extension_id']
    exts = admin.state()['domain_extensions']
    assert len(exts) == 1 and exts[0]['ServerCertificateId'] == two


def test_partial_failure_reports_each_target(fake_slb, mini_ca):
    admin = fake_slb.admin_client
    admin.seed({'load_balancers': [{'LoadBalancerName': 'unit-ok', 'listeners': [{'ListenerPort': 443}]}]})
    api = _api(fake_slb)
    cert_id = server_certificates.ensure_certificate(api, *_issue(mini_ca, 'partial.example.test')[1:])['server_certificate_id']
    results, failed = listeners.switch_targets(api, [{'load_balancer_name': 'unit-ok'}, {'load_balancer_name': 'missing-lb'},
                                               {'load_balancer_name': 'unit-ok', 'listener_port': 8443}], cert_id)
    assert [r['failed'] for r in results] == [False, True, True]
    assert results[0]['changed']
    assert 'missing-lb' in results[1]['msg'] and '8443' in results[2]['msg']
    assert len(failed) == 2


def test_ambiguous_name_is_refused(fake_slb):
    admin = fake_slb.admin_client
    admin.seed({'load_balancers': [{'LoadBalancerName': 'twin', 'listeners': []}, {'LoadBalancerName': 'twin', 'listeners': []}]})
    with pytest.raises(CertpilotError) as info:
        slb.resolve_load_balancer(_api(fake_slb), name='twin')
    assert 'ambiguous' in info.value.msg and len(info.value.details['candidates']) == 2


def test_pagination_of_load_balancers(fake_slb):
    admin = fake_slb.admin_client
    admin.seed({'load_balancers': [{'LoadBalancerName': 'many-%03d' % i, 'listeners': []} for i in range(105)]})
    api = _api(fake_slb)
    assert len(api.load_balancers()) == 105
    assert slb.resolve_load_balancer(api, name='many-104')['LoadBalancerName'] == 'many-104'


def test_prune_keeps_in_use_and_newest(fake_slb, mini_ca):
    admin = fake_slb.admin_client
    lb_id = admin.seed({'load_balancers': [{'LoadBalancerName': 'unit-prune', 'listeners': [{'ListenerPort': 443}]}]})['load_balancers'][0]
    api = _api(fake_slb)
    ids = []
    for days in (30, 60, 90):
        from slb_api.certs import key_pem
        cert, key = mini_ca.issue('prune.example.test', days=days)
        ids.append(server_certificates.ensure_certificate(api, mini_ca.fullchain(cert), key_pem(key), name='prune-%d' % days)['server_certificate_id'])
    # the oldest one is in use by the listener, and by an SNI domain
    listeners.switch_targets(api, [{'load_balancer_id': lb_id}], ids[0])
    cert, key = mini_ca.issue('prune.example.test', days=120)
    from slb_api.certs import key_pem
    check = server_certificates.ensure_certificate(api, mini_ca.fullchain(cert), key_pem(key), name='prune-120',
                                                   prune={'name_prefix': 'prune-', 'keep': 1}, check_mode=True)
    assert sorted(check['deleted']) == sorted(ids[1:])
    assert len(admin.state()['server_certificates']) == 4 + 0  # seed cert + 3, nothing deleted in check mode
    result = server_certificates.ensure_certificate(api, mini_ca.fullchain(cert), key_pem(key), name='prune-120',
                                                    prune={'name_prefix': 'prune-', 'keep': 1})
    assert sorted(result['deleted']) == sorted(ids[1:])
    left = set(c['ServerCertificateId'] for c in admin.state()['server_certificates'])
    assert ids[0] in left and result['server_certificate_id'] in left
    assert not (set(ids[1:]) & left)


def test_prune_tolerates_late_in_use_answer(fake_slb, mini_ca):
    """If a listener starts using a certificate between the scan and the delete, it is skipped, not an error."""
    admin = fake_slb.admin_client
    lb_id = admin.seed({'load_balancers': [{'LoadBalancerName': 'unit-race', 'listeners': [{'ListenerPort': 443}]}]})['load_balancers'][0]
    api = _api(fake_slb)
    from slb_api.certs import key_pem
    cert, key = mini_ca.issue('race.example.test', days=10)
    victim = server_certificates.ensure_certificate(api, mini_ca.fullchain(cert), key_pem(key), name='race-old')['server_certificate_id']
    listeners.switch_targets(api, [{'load_balancer_id': lb_id}], victim)
    certs = api.server_certificates()
    deleted, skipped = slb.prune(api, certs, {}, 'race-', 0, set())  # stale usage map: says unused
    assert deleted == [] and skipped == [{'server_certificate_id': victim, 'reason': 'CertificateAndPrivateKeyIsRefered'}]
    assert victim in [c['ServerCertificateId'] for c in admin.state()['server_certificates']]


def test_certificate_info_reports_usage_and_days(fake_slb, mini_ca):
    admin = fake_slb.admin_client
    lb_id = admin.seed({'load_balancers': [{'LoadBalancerName': 'unit-info', 'listeners': [{'ListenerPort': 443}]}]})['load_balancers'][0]
    api = _api(fake_slb)
    from slb_api.certs import key_pem
    cert, key = mini_ca.issue('info.example.test', days=45)
    cid = server_certificates.ensure_certificate(api, mini_ca.fullchain(cert), key_pem(key))['server_certificate_id']
    listeners.switch_targets(api, [{'load_balancer_id': lb_id, 'domain': 'info.example.test'}], cid)
    info = dict((c['server_certificate_id'], c) for c in server_certificates.certificate_info(api))
    assert info[cid]['days_remaining'] in (44, 45)
    assert info[cid]['common_name'] == 'info.example.test'
    assert [(u['load_balancer_id'], u['domain']) for u in info[cid]['used_by']] == [(lb_id, 'info.example.test')]
    seed_id = admin.listener(lb_id, 443)['ServerCertificateId']
    assert [(u['listener_port'], u['domain']) for u in info[seed_id]['used_by']] == [(443, None)]


def test_wrong_secret_is_a_clear_error(fake_slb):
    api = _api(fake_slb, alicloud_secret_key='not-the-secret')
    with pytest.raises(CertpilotError) as info:
        api.server_certificates()
    assert 'SignatureDoesNotMatch' in info.value.msg
    assert 'not-the-secret' not in info.value.msg


def test_throttling_retried_transparently(fake_slb):
    fake_slb.admin_client.faults(throttle_next=2)
    api = _api(fake_slb)
    assert api.server_certificates() == []
    assert api.client.calls == 3


def test_fake_state_persists_and_serving_resumes(tmp_path, mini_ca):
    """The test double itself: --state survives a restart, listeners serve the bound certificate again."""
    from slb_api.server import make_server
    from slb_api.testkit import _free_port_range, served_cert_der
    from slb_api.certs import fingerprint_sha1
    from cryptography import x509
    import threading
    state = str(tmp_path / 'state.json')
    ports = _free_port_range(4)
    first = make_server('127.0.0.1:0', ports, {'testid': 'testsecret'}, state_file=state, workdir=str(tmp_path / 'k1'))
    lb_id = first.fake.seed({'load_balancers': [{'LoadBalancerName': 'persist', 'listeners': [{'ListenerPort': 443}]}]})['load_balancers'][0]
    port = first.fake.state()['load_balancers'][0]['listeners'][0]['serving_port']
    served = fingerprint_sha1(x509.load_der_x509_certificate(served_cert_der(port)))
    first.fake.shutdown()
    first.server_close()
    second = make_server('127.0.0.1:0', ports, {}, state_file=state, workdir=str(tmp_path / 'k2'))
    threading.Thread(target=second.serve_forever, daemon=True).start()
    try:
        listener = second.fake.state()['load_balancers'][0]['listeners'][0]
        assert second.fake.state()['load_balancers'][0]['LoadBalancerId'] == lb_id
        assert listener['serving_port'] == port
        assert fingerprint_sha1(x509.load_der_x509_certificate(served_cert_der(port))) == served
        assert 'testid' in second.fake.access_keys
    finally:
        second.shutdown()
        second.server_close()
        second.fake.shutdown()
