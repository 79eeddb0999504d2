# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fake SCM API checked against Huawei's official Python SDK (huaweicloudsdkcore + huaweicloudsdkscm).

* The SDK's own signer and client, calling the fake, are accepted (ListCertificates, ExportCertificate);
  a wrong SK gets 401 APIGW.0301 with a request id, as the SDK parses Huawei's errors.
* certpilot's signer gives the SDK signer's canonical request and Authorization header byte for byte
  for the same request and time, and certpilot's client signs the same headers as the SDK's.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys
import uuid

import pytest

FAKES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fakes')
if FAKES not in sys.path:
    sys.path.insert(0, FAKES)

from huaweicloud_scm.pytest_fixtures import scm  # noqa: E402,F401  pylint: disable=unused-import
from huaweicloud_scm.testkit import TestCa  # noqa: E402

from ansible_collections.certpilot.tls.plugins.module_utils.huaweicloud import ccm, signer  # noqa: E402
from ansible_collections.certpilot.tls.plugins.module_utils.huaweicloud.client import HuaweiClient  # noqa: E402
from ansible_collections.certpilot.tls.plugins.module_utils.huaweicloud.credentials import Credentials  # noqa: E402

pytestmark = pytest.mark.timeout(120)


def _sdk_client(scm, sk=None):
    from huaweicloudsdkcore.auth.credentials import GlobalCredentials
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkscm.v3 import ScmClient
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    if scm.ca_bundle:
        config.ssl_ca_cert = scm.ca_bundle
    return (ScmClient.new_builder().with_credentials(GlobalCredentials(scm.ak, sk or scm.sk, scm.domain_id))
            .with_endpoints([scm.endpoint]).with_http_config(config).build())


@pytest.fixture(scope='module')
def seeded(scm):
    ca = TestCa('SDK check')
    tag = uuid.uuid4().hex[:8]
    export, leaf = ca.issue('sdk-%s.example.test' % tag)
    ids = scm.admin.seed(dict(name='sdk-%s' % tag, **export))
    yield {'tag': tag, 'id': ids[0], 'export': export, 'leaf': leaf}
    scm.admin.remove(*ids)


def test_official_sdk_list_and_export_are_accepted(scm, seeded):
    from huaweicloudsdkscm.v3 import ExportCertificateRequest, ListCertificatesRequest
    client = _sdk_client(scm)
    listed = client.list_certificates(ListCertificatesRequest(limit=10, offset=0, content='sdk-%s' % seeded['tag'],
                                                              status='ISSUED'))
    assert listed.total_count == 1 and [c.id for c in listed.certificates] == [seeded['id']]
    assert listed.certificates[0].domain == 'sdk-%s.example.test' % seeded['tag']
    exported = client.export_certificate(ExportCertificateRequest(certificate_id=seeded['id']))
    assert exported.certificate == seeded['export']['certificate']
    assert exported.certificate_chain == seeded['export']['certificate_chain']
    assert exported.private_key == seeded['export']['private_key']


def test_official_sdk_with_a_wrong_sk_gets_huaweis_401(scm, seeded):
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
    from huaweicloudsdkscm.v3 import ListCertificatesRequest
    with pytest.raises(ClientRequestException) as info:
        _sdk_client(scm, sk='wrong-%s' % seeded['tag']).list_certificates(ListCertificatesRequest(limit=10))
    assert info.value.status_code == 401 and info.value.error_code == 'APIGW.0301'
    assert info.value.request_id == scm.admin.calls()[-1]['request_id']


def test_official_sdk_unknown_id_and_not_issued_get_scm_codes(scm, seeded):
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
    from huaweicloudsdkscm.v3 import ExportCertificateRequest
    pending = scm.admin.seed({'name': 'pending-%s' % seeded['tag'], 'domain': 'p.example.test', 'status': 'CHECKING'})
    try:
        client = _sdk_client(scm)
        for cid, code in (('scs0000000000000', 'SCM.0020'), (pending[0], 'SCM.0010')):
            with pytest.raises(ClientRequestException) as info:
                client.export_certificate(ExportCertificateRequest(certificate_id=cid))
            assert (info.value.status_code, info.value.error_code) == (400, code)
            assert info.value.request_id
    finally:
        scm.admin.remove(*pending)


@pytest.mark.parametrize('method,path,query,body', [
    ('GET', '/v3/scm/certificates', [('limit', 50), ('offset', 0), ('status', 'ISSUED'), ('content', 'www.example.com')], None),
    ('GET', '/v3/scm/certificates', [('content', 'a b/ü*~'), ('limit', 10)], None),
    ('POST', '/v3/scm/certificates/scs1700000000001/export', [], None),
    ('POST', '/v3/scm/certificates/import', [], b'{"name": "x", "certificate": "-----BEGIN"}'),
])
def test_our_signer_matches_the_sdk_byte_for_byte(method, path, query, body):
    from huaweicloudsdkcore.auth.credentials import GlobalCredentials
    from huaweicloudsdkcore.sdk_request import SdkRequest
    from huaweicloudsdkcore.signer.signer import Signer
    headers = {'Content-Type': 'application/json', 'User-Agent': 'huaweicloud-usdk-python/3.0',
               'X-Domain-Id': 'c3a1f0e9b8d74c2a9e5f60718293a4b5', 'X-Sdk-Date': '20261203T101112Z'}
    creds = GlobalCredentials('AKCHECK', 'sk-check-secret', 'c3a1f0e9b8d74c2a9e5f60718293a4b5')
    host = 'scm.ap-southeast-1.myhuaweicloud.com'
    request = SdkRequest(method=method, schema='https', host=host, resource_path=path, query_params=list(query),
                         header_params=dict(headers, Host=host), body=body)
    sdk_signer = Signer(creds)
    names = sdk_signer._process_signed_headers(request)  # pylint: disable=protected-access
    sdk_canonical = sdk_signer._process_canonical_request(request, names)  # pylint: disable=protected-access
    sdk_signed = sdk_signer.sign(SdkRequest(method=method, schema='https', host=host, resource_path=path,
                                            query_params=list(query), header_params=dict(headers), body=body))
    ours, our_names = signer.canonical_request(method, path, query, dict(headers, Host=host), body)
    assert ours == sdk_canonical
    assert our_names == names
    mine = signer.sign(method, 'https://%s%s' % (host, path), query, headers, body, 'AKCHECK', 'sk-check-secret')
    assert mine['Authorization'] == sdk_signed.header_params['Authorization']
    # the query string we send is the one the SDK sends
    assert sdk_signed.uri == path + ('?' + signer.canonical_query(query) if query else '')


def test_our_client_signs_the_same_headers_as_the_sdk(scm, seeded):
    from huaweicloudsdkscm.v3 import ListCertificatesRequest
    _sdk_client(scm).list_certificates(ListCertificatesRequest(limit=10, content=seeded['tag']))
    sdk_call = scm.admin.calls()[-1]
    client = HuaweiClient(Credentials(scm.ak, scm.sk, domain_id=scm.domain_id), scm.endpoint, ca_bundle=scm.ca_bundle)
    found = ccm.CcmApi(client).find(name='sdk-%s' % seeded['tag'])
    assert [c['id'] for c in found] == [seeded['id']]
    our_call = scm.admin.calls()[-1]
    assert our_call['status'] == sdk_call['status'] == 200
    assert our_call['signed_headers'] == sdk_call['signed_headers'] == 'content-type;host;user-agent;x-domain-id;x-sdk-date'
