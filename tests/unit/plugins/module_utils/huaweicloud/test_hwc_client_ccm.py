# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Huawei client and the CCM calls against the fake SCM API (in-process, loopback), and the store import."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import RetryPolicy
from ansible_collections.certpilot.tls.plugins.module_utils.huaweicloud import ccm, client as clientlib
from ansible_collections.certpilot.tls.plugins.module_utils.huaweicloud.credentials import (
    Credentials, resolve_credentials, resolve_endpoint)
from ansible_collections.certpilot.tls.plugins.module_utils.sources.importer import Importer

pytestmark = pytest.mark.timeout(120)


def _client(fake, sk='testsk', attempts=4, **kwargs):
    return clientlib.HuaweiClient(Credentials('TESTAK', sk, domain_id='testdomain'), fake.endpoint,
                                  policy=RetryPolicy(attempts=attempts, base=0.01, cap=0.05), **kwargs)


def test_wrong_sk_is_refused_with_the_request_id_and_never_shown(fake_scm):
    api = ccm.CcmApi(_client(fake_scm, sk='not-the-secret-value'))
    with pytest.raises(clientlib.HuaweiApiError) as info:
        api.list_certificates()
    err = info.value
    assert (err.http_status, err.error_code) == (401, 'APIGW.0301')
    assert err.request_id and err.request_id in err.msg
    assert err.request_id == fake_scm.admin.calls()[-1]['request_id']
    assert 'not-the-secret-value' not in err.msg and 'not-the-secret-value' not in repr(err.details)


def test_throttling_and_5xx_are_retried_within_the_bound(fake_scm):
    fake_scm.admin.faults(throttle_next=2, retry_after=0)
    cl = _client(fake_scm)
    assert ccm.CcmApi(cl).list_certificates() == []
    assert cl.calls == 3
    fake_scm.admin.faults(unavailable_next=5)
    cl = _client(fake_scm, attempts=3)
    with pytest.raises(clientlib.HuaweiApiError) as info:
        ccm.CcmApi(cl).list_certificates()
    assert info.value.http_status == 503 and cl.calls == 3
    fake_scm.admin.faults(unavailable_next=0)


def test_a_deadline_bounds_the_retries(fake_scm):
    fake_scm.admin.faults(throttle_next=50, retry_after=0)
    cl = clientlib.HuaweiClient(Credentials('TESTAK', 'testsk', domain_id='testdomain'), fake_scm.endpoint,
                                deadline=Deadline(1.0), policy=RetryPolicy(attempts=100, base=0.2, cap=0.2, jitter=0))
    with pytest.raises(CertpilotError):
        ccm.CcmApi(cl).list_certificates()
    assert cl.calls < 10
    fake_scm.admin.faults(throttle_next=0)


def test_answers_larger_than_the_cap_are_refused(fake_scm, test_ca, monkeypatch):
    fake_scm.admin.seed(dict(name='big', **test_ca.issue('big.example.test')[0]))
    monkeypatch.setattr(clientlib, 'MAX_RESPONSE_BYTES', 100)
    with pytest.raises(CertpilotError, match='larger than 100 bytes'):
        ccm.CcmApi(_client(fake_scm)).list_certificates()


def test_paging_reads_every_page_and_is_bounded(fake_scm, test_ca):
    export, _leaf = test_ca.issue('page.example.test')
    fake_scm.admin.seed(*[dict(name='p%03d' % i, **export) for i in range(120)])
    cl = _client(fake_scm)
    found = ccm.CcmApi(cl).list_certificates()
    assert sorted(c['name'] for c in found) == ['p%03d' % i for i in range(120)]
    assert cl.calls == 3  # 50 + 50 + 20
    queries = [c['query'] for c in fake_scm.admin.calls()[-3:]]
    assert ['offset=0' in q and 'limit=50' in q for q in queries] == [True, False, False]
    with pytest.raises(CertpilotError, match='more than 100 certificates'):
        ccm.CcmApi(_client(fake_scm), max_pages=2).list_certificates()


def test_pick_takes_the_issued_one_that_expires_last():
    items = [{'id': 'a', 'status': 'ISSUED', 'expire_time': '2027-01-01 00:00:00.0'},
             {'id': 'b', 'status': 'ISSUED', 'expire_time': '2028-01-01 00:00:00.0'},
             {'id': 'c', 'status': 'CHECKING', 'expire_time': ''}]
    assert ccm.pick(items, 'x')['id'] == 'b'
    with pytest.raises(CertpilotError, match='is issued yet in Huawei Cloud CCM .c is CHECKING'):
        ccm.pick(items[2:], 'domain=x')
    with pytest.raises(CertpilotError, match='no certificate in Huawei Cloud CCM matches'):
        ccm.pick([], 'domain=x')


def test_matches_domain_in_sans_and_name_exactly():
    item = {'name': 'www-2026', 'domain': 'www.example.com', 'sans': 'example.com;api.example.com', 'status': 'ISSUED'}
    assert ccm.matches(item, domain='API.example.com')
    assert not ccm.matches(item, name='www')
    assert not ccm.matches(item, domain='www.example.com', status='EXPIRED')


def test_import_all_imports_fails_by_name_and_is_idempotent(fake_scm, test_ca, tmp_path):
    good, leaf = test_ca.issue('good.example.test')
    ids = fake_scm.admin.seed(dict(name='good-cert', **good),
                              {'name': 'pending', 'domain': 'pending.example.test', 'status': 'CHECKING'})
    ca_file = tmp_path / 'root.pem'
    ca_file.write_text(test_ca.root_pem)
    store = tmp_path / 'store'
    items = [{'name': 'good', 'domain': 'good.example.test'},
             {'name': 'missing', 'certificate_id': 'scs0000000000000'},
             {'name': 'pending', 'certificate_id': ids[1]}]

    def run():
        importer = Importer(str(store), ca_bundle=str(ca_file), system_roots=False)
        return ccm.import_all(ccm.CcmApi(_client(fake_scm)), importer, items)

    results, failed, secrets = run()
    assert failed == ['missing', 'pending']
    assert results['good']['action'] == 'imported' and results['good']['ccm']['id'] == ids[0]
    assert results['good']['fingerprint_sha256'] == leaf.fingerprint(__import__(
        'cryptography.hazmat.primitives.hashes', fromlist=['SHA256']).SHA256()).hex()
    assert results['missing']['error_code'] == 'SCM.0020' and results['missing']['request_id']
    assert results['pending']['error_code'] == 'SCM.0010'
    assert secrets == [good['private_key']]
    assert good['private_key'] not in json.dumps(results)
    with open(os.path.join(str(store), 'good', 'issuer.json')) as handle:
        assert json.load(handle)['source'] == 'Huawei Cloud CCM %s' % ids[0]
    again, failed_again, _secrets = run()
    assert again['good']['action'] == 'unchanged' and failed_again == ['missing', 'pending']


def test_import_all_stops_at_refused_credentials(fake_scm, tmp_path):
    importer = Importer(str(tmp_path / 'store'))
    api = ccm.CcmApi(_client(fake_scm, sk='bad'))
    with pytest.raises(clientlib.HuaweiApiError, match='APIGW.0301'):
        ccm.import_all(api, importer, [{'name': 'a', 'certificate_id': 'scs0000000000001'},
                                       {'name': 'b', 'certificate_id': 'scs0000000000002'}])
    assert len(fake_scm.admin.calls()) == 1


def test_export_refuses_an_answer_without_a_key(fake_scm, test_ca):
    export, _leaf = test_ca.issue('nokey.example.test')
    ids = fake_scm.admin.seed(dict(export, name='nokey', private_key=''))
    with pytest.raises(CertpilotError, match='returned no private key'):
        ccm.CcmApi(_client(fake_scm)).export(ids[0])


def test_credentials_and_endpoint_resolution():
    with pytest.raises(CertpilotError, match='sk missing'):
        resolve_credentials({'ak': 'a'})
    creds = resolve_credentials({'ak': 'a', 'sk': 'SECRETVALUE', 'domain_id': ' d '})
    assert creds.domain_id == 'd' and 'SECRETVALUE' not in repr(creds)
    assert resolve_endpoint({'region': 'ap-southeast-1'}, {}) == 'https://scm.ap-southeast-1.myhuaweicloud.com'
    env = {'HUAWEICLOUD_SDK_REGION_SCM_CN_NORTH_4': 'https://scm.internal:8443,https://other'}
    assert resolve_endpoint({'region': 'cn-north-4'}, env) == 'https://scm.internal:8443'
    assert resolve_endpoint({'endpoint': 'http://127.0.0.1:1', 'region': 'x'}, env) == 'http://127.0.0.1:1'
    with pytest.raises(CertpilotError, match='no Huawei Cloud region'):
        resolve_endpoint({}, {})
    with pytest.raises(CertpilotError, match='not a Huawei Cloud region'):
        resolve_endpoint({'region': 'bad region'}, {})


def test_parse_expire_time_forms():
    assert ccm.parse_expire_time('2026-05-29 07:59:59.0').year == 2026
    assert ccm.parse_expire_time('2026-05-29T07:59:59Z').hour == 7
    assert ccm.parse_expire_time(1780000000000).year == 2026
    assert ccm.parse_expire_time('soon') is None
