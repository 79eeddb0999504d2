# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fake CAS + ALB + CDN API and certpilot's client checked against Alibaba's official Python SDKs
(alibabacloud-cas20200407, alibabacloud-alb20200616, alibabacloud-cdn20180510 on alibabacloud-tea-openapi;
test-only dependencies).

* The SDK clients' own requests (signature V3, parameters in the query string) are accepted by the fake,
  and its errors reach the SDK with Alibaba's codes and a RequestId.
* Every parameter name certpilot sends for an action is a field of the SDK's request model of that action.
* certpilot's V3 signer gives the SDK's Authorization header for the same request, byte for byte.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import sys
import uuid
from urllib.parse import urlsplit

import pytest

FAKES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'fakes')
if FAKES not in sys.path:
    sys.path.insert(0, FAKES)

from alicloud_api.pytest_fixtures import alicloud  # noqa: E402,F401  pylint: disable=unused-import
from slb_api.certs import MiniCa, cert_pem, key_pem  # noqa: E402

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import alb, cas, cdn, signer_v3  # noqa: E402
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.client import RpcClient  # noqa: E402
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.credentials import Credentials  # noqa: E402

pytestmark = pytest.mark.timeout(180)


def _config(alicloud, secret=None):
    from alibabacloud_tea_openapi.models import Config
    return Config(access_key_id=alicloud.access_key, access_key_secret=secret or alicloud.secret_key,
                  endpoint=urlsplit(alicloud.endpoint).netloc, protocol='https', region_id=alicloud.region)


def _runtime(alicloud):
    from darabonba.runtime import RuntimeOptions
    return RuntimeOptions(ca=alicloud.ca_bundle, autoretry=False, max_attempts=1)


def _cas_sdk(alicloud, secret=None):
    from alibabacloud_cas20200407.client import Client
    return Client(_config(alicloud, secret))


def _alb_sdk(alicloud):
    from alibabacloud_alb20200616.client import Client
    return Client(_config(alicloud))


def _cdn_sdk(alicloud):
    from alibabacloud_cdn20180510.client import Client
    return Client(_config(alicloud))


def _material(ca):
    cert, key = ca.issue('sdk-%s.example.test' % uuid.uuid4().hex[:8])
    return {'cert': ca.fullchain(cert), 'key': key_pem(key, 'pkcs1'), 'leaf': cert_pem(cert)}


@pytest.fixture(scope='module')
def sdk_ca():
    return MiniCa('SDK check')


@pytest.fixture
def material(sdk_ca):
    return _material(sdk_ca)


def test_sdk_upload_list_detail_are_accepted(alicloud, material):
    from alibabacloud_cas20200407 import models
    client, runtime = _cas_sdk(alicloud), _runtime(alicloud)
    name = 'sdk-%s' % uuid.uuid4().hex[:8]
    up = client.upload_user_certificate_with_options(models.UploadUserCertificateRequest(
        name=name, cert=material['cert'], key=material['key']), runtime)
    assert up.status_code == 200 and up.body.cert_id and up.body.request_id
    call = alicloud.admin.calls()[-1]
    assert call['Action'] == 'UploadUserCertificate' and call['signature'] == 'v3'
    assert 'Cert' in call['in_query']  # the SDK sends the parameters in the query string, certpilot in the body
    listed = client.list_user_certificate_order_with_options(models.ListUserCertificateOrderRequest(
        order_type='UPLOAD', keyword=name, current_page=1, show_size=10), runtime)
    assert [c.certificate_id for c in listed.body.certificate_order_list] == [up.body.cert_id]
    assert listed.body.total_count == 1
    detail = client.get_user_certificate_detail_with_options(models.GetUserCertificateDetailRequest(
        cert_id=up.body.cert_id, cert_filter=True), runtime)
    assert detail.body.name == name and detail.body.key is None and detail.body.cert is None


def test_sdk_with_a_wrong_secret_gets_signature_does_not_match(alicloud):
    from alibabacloud_cas20200407 import models
    with pytest.raises(Exception) as info:
        _cas_sdk(alicloud, secret='wrong-%s' % uuid.uuid4().hex[:6]).list_user_certificate_order_with_options(
            models.ListUserCertificateOrderRequest(order_type='UPLOAD'), _runtime(alicloud))
    assert getattr(info.value, 'code', None) == 'SignatureDoesNotMatch'
    data = getattr(info.value, 'data', None) or {}
    assert data.get('RequestId') or 'RequestId' in str(info.value)


def test_sdk_alb_calls_are_accepted_and_dry_run_answers_dry_run_operation(alicloud, material):
    from alibabacloud_alb20200616 import models
    cert_id = alicloud.admin.seed({'certificates': [{'Cert': material['cert'], 'Key': material['key'],
                                                     'Name': 'sdk-alb-%s' % uuid.uuid4().hex[:6]}]})['certificates'][0]
    lid = alicloud.admin.seed({'listeners': [{}]})['listeners'][0]
    client, runtime = _alb_sdk(alicloud), _runtime(alicloud)
    attrs = client.get_listener_attribute_with_options(models.GetListenerAttributeRequest(listener_id=lid), runtime)
    assert attrs.body.listener_id == lid and attrs.body.listener_status == 'Running'
    request = models.UpdateListenerAttributeRequest(
        listener_id=lid, dry_run=True, client_token=str(uuid.uuid4()),
        certificates=[models.UpdateListenerAttributeRequestCertificates(certificate_id='%s-%s' % (cert_id, alicloud.region))])
    with pytest.raises(Exception) as info:
        client.update_listener_attribute_with_options(request, runtime)
    assert getattr(info.value, 'code', None) == 'DryRunOperation'
    request.dry_run = False
    done = client.update_listener_attribute_with_options(request, runtime)
    assert done.status_code == 200 and done.body.job_id
    listed = client.list_listener_certificates_with_options(models.ListListenerCertificatesRequest(
        listener_id=lid, certificate_type='Server'), runtime)
    assert [(c.certificate_id, c.is_default) for c in listed.body.certificates] == [('%s-%s' % (cert_id, alicloud.region), True)]
    with pytest.raises(Exception) as info:
        client.get_listener_attribute_with_options(models.GetListenerAttributeRequest(listener_id='lsn-nope'), runtime)
    assert getattr(info.value, 'code', None) == 'ResourceNotFound.Listener'


def _model_fields(model_class):
    """The wire names of a DaraModel request: set each attribute alone and read ``to_map()`` back."""
    names = set()
    probe = model_class()
    for attr in list(vars(probe)):
        instance = model_class()
        for value in ('x', ['x'], 1, True):
            try:
                setattr(instance, attr, value)
                names.update(instance.to_map().keys())
                break
            except Exception:  # pylint: disable=broad-except  # wrong type for a nested model: try the next
                setattr(instance, attr, None)
    return names


def test_parameter_names_we_send_are_sdk_model_fields(alicloud, material, sdk_ca):
    from alibabacloud_alb20200616 import models as alb_models
    from alibabacloud_cas20200407 import models as cas_models
    creds = Credentials(alicloud.access_key, alicloud.secret_key)
    cas_client = RpcClient(creds, alicloud.region, endpoint=alicloud.endpoint, product='cas', ca_bundle=alicloud.ca_bundle)
    alb_client = RpcClient(creds, alicloud.region, endpoint=alicloud.endpoint, product='alb', ca_bundle=alicloud.ca_bundle)
    alicloud.admin.clear_calls()
    cas_api = cas.CasApi(cas_client)
    item = {'certificate': material['cert'], 'private_key': material['key'], 'name': 'names-%s' % uuid.uuid4().hex[:6]}
    result = cas.ensure_certificates(cas_api, [item], prune_spec={'name_prefix': 'names-none-', 'keep': 0})
    assert not result['failed_items']
    cid = result['results'][0]['certificate_id']
    lid = alicloud.admin.seed({'listeners': [{'DefaultCertificateId': cid}]})['listeners'][0]
    fresh = _material(sdk_ca)
    other = cas_api.upload('names-other-%s' % uuid.uuid4().hex[:6], fresh['cert'], fresh['key'])['CertId']
    api = alb.AlbApi(alb_client)
    for check in (True, False):
        alb.ensure_listener(api, {'listener_id': lid, 'default_certificate_id': str(other),
                                  'additional_certificate_ids': [cid], 'additional_mode': 'exact'}, check_mode=check)
    alb.ensure_listener(api, {'listener_id': lid, 'additional_certificate_ids': [], 'additional_mode': 'exact'})
    cas_api.delete(cid)
    cas.describe_all(cas_api)
    sent = {}
    for call in alicloud.admin.calls():
        roots = set(re.sub(r'\.\d+(\..*)?$', '', name) for name in call['params'])
        sent.setdefault(call['Action'], set()).update(roots)
    expected_actions = {'UploadUserCertificate', 'ListUserCertificateOrder', 'GetUserCertificateDetail',
                        'DeleteUserCertificate', 'ListCloudResources', 'GetListenerAttribute', 'ListListenerCertificates',
                        'UpdateListenerAttribute', 'AssociateAdditionalCertificatesWithListener',
                        'DissociateAdditionalCertificatesFromListener'}
    assert expected_actions <= set(sent)
    for action, names in sorted(sent.items()):
        module = cas_models if hasattr(cas_models, action + 'Request') else alb_models
        fields = _model_fields(getattr(module, action + 'Request'))
        assert names <= fields, '%s: %s are not fields of the SDK model (%s)' % (action, sorted(names - fields), sorted(fields))


def _seed_domain(alicloud, **extra):
    name = 'cdn-%s.example.test' % uuid.uuid4().hex[:8]
    alicloud.admin.seed({'cdn_domains': [dict(extra, DomainName=name)]})
    return name


def test_sdk_cdn_calls_are_accepted_and_errors_reach_the_sdk(alicloud, material):
    from alibabacloud_cdn20180510 import models
    cert_id = alicloud.admin.seed({'certificates': [{'Cert': material['cert'], 'Key': material['key'],
                                                     'Name': 'sdk-cdn-%s' % uuid.uuid4().hex[:6]}]})['certificates'][0]
    domain = _seed_domain(alicloud)
    alicloud.admin.faults(configuring_seconds=0)
    client, runtime = _cdn_sdk(alicloud), _runtime(alicloud)
    try:
        done = client.set_cdn_domain_sslcertificate_with_options(models.SetCdnDomainSSLCertificateRequest(
            domain_name=domain, cert_type='cas', cert_id=cert_id, cert_region='cn-hangzhou', sslprotocol='on'), runtime)
        assert done.status_code == 200 and done.body.request_id
        call = alicloud.admin.calls()[-1]
        assert call['Action'] == 'SetCdnDomainSSLCertificate' and call['signature'] == 'v3' and 'CertId' in call['in_query']
        info = client.describe_domain_certificate_info_with_options(
            models.DescribeDomainCertificateInfoRequest(domain_name=domain), runtime)
        entries = info.body.cert_infos.cert_info
        assert [(e.domain_name, e.cert_type, e.cert_id, e.server_certificate_status) for e in entries] == [
            (domain, 'cas', str(cert_id), 'on')]
        assert entries[0].server_certificate.startswith('-----BEGIN CERTIFICATE-----')
        assert alicloud.admin.cdn_domain(domain)['https']['CertId'] == str(cert_id)
        # an upload through the SDK (it sends the key in the query string; the fake never records it)
        up = client.set_cdn_domain_sslcertificate_with_options(models.SetCdnDomainSSLCertificateRequest(
            domain_name=domain, cert_type='upload', sslpub=material['cert'], sslpri=material['key'], sslprotocol='on',
            cert_name='sdk-upload'), runtime)
        assert up.status_code == 200
        assert alicloud.admin.calls()[-1]['params']['SSLPri'] == '<redacted>'
        assert alicloud.admin.cdn_domain(domain)['https']['CertType'] == 'upload'
    finally:
        alicloud.admin.faults(configuring_seconds=0.6)
    with pytest.raises(Exception) as info:
        client.describe_domain_certificate_info_with_options(
            models.DescribeDomainCertificateInfoRequest(domain_name='nope-%s.example.test' % uuid.uuid4().hex[:6]), runtime)
    assert getattr(info.value, 'code', None) == 'InvalidDomain.NotFound'
    data = getattr(info.value, 'data', None) or {}
    assert data.get('RequestId') or 'RequestId' in str(info.value)
    with pytest.raises(Exception) as info:
        client.set_cdn_domain_sslcertificate_with_options(models.SetCdnDomainSSLCertificateRequest(
            domain_name=domain, cert_type='cas', cert_id=99999999, sslprotocol='on'), runtime)
    assert getattr(info.value, 'code', None) == 'InvalidCertificate.NotFound'


def test_cdn_parameter_names_we_send_are_sdk_model_fields(alicloud, material, sdk_ca):
    from alibabacloud_cdn20180510 import models as cdn_models
    creds = Credentials(alicloud.access_key, alicloud.secret_key)
    client = RpcClient(creds, alicloud.region, endpoint=alicloud.endpoint, product='cdn', ca_bundle=alicloud.ca_bundle)
    cert_id = alicloud.admin.seed({'certificates': [{'Cert': material['cert'], 'Key': material['key'],
                                                     'Name': 'names-cdn-%s' % uuid.uuid4().hex[:6]}]})['certificates'][0]
    first, second, third = _seed_domain(alicloud), _seed_domain(alicloud), _seed_domain(alicloud)
    fresh = _material(sdk_ca)
    alicloud.admin.clear_calls()
    out = cdn.ensure_domains(cdn.CdnApi(client), [
        {'domain_name': first, 'certificate_id': str(cert_id), 'certificate_region': 'cn-hangzhou'},
        {'domain_name': second, 'certificate': fresh['cert'], 'private_key': fresh['key'], 'certificate_name': 'n'},
        {'domain_name': third, 'ssl_protocol': 'off'}], wait_timeout=30)
    assert out['failed_items'] == []
    sent = {}
    for call in alicloud.admin.calls():
        sent.setdefault(call['Action'], set()).update(call['params'])
    assert set(sent) == {'DescribeDomainCertificateInfo', 'SetCdnDomainSSLCertificate'}
    assert {'CertType', 'CertId', 'CertRegion', 'SSLPub', 'SSLPri', 'CertName'} <= sent['SetCdnDomainSSLCertificate']
    for action, names in sorted(sent.items()):
        fields = _model_fields(getattr(cdn_models, action + 'Request'))
        assert names <= fields, '%s: %s are not fields of the SDK model (%s)' % (action, sorted(names - fields), sorted(fields))


@pytest.mark.parametrize('query,body,token', [
    ({'ListenerId': 'lsn-1', 'Certificates.1.CertificateId': '12000001-cn-hangzhou'}, b'', None),
    ({'Name': 'a b/ü*~', 'ShowSize': '10'}, b'', 'sts-token'),
    ({}, b'Cert=-----BEGIN%20CERTIFICATE-----&Name=x', None),
])
def test_our_v3_signature_is_the_sdks(query, body, token):
    from alibabacloud_tea_openapi.utils import Utils
    from darabonba.request import DaraRequest
    content_type = 'application/x-www-form-urlencoded' if body else None
    ours = signer_v3.sign_request('POST', 'alb.cn-hangzhou.aliyuncs.com', '/', query, body, 'UpdateListenerAttribute',
                                  '2020-06-16', 'AKIDcheck', 'secret-check', security_token=token,
                                  content_type=content_type, date='2026-12-03T10:11:12Z', nonce='nonce-123')
    request = DaraRequest()
    request.method = 'POST'
    request.pathname = '/'
    request.query = dict(query)
    request.headers = dict((k, v) for k, v in ours.items() if k != 'Authorization')
    sdk = Utils.get_authorization(request, 'ACS3-HMAC-SHA256', ours['x-acs-content-sha256'], 'AKIDcheck', 'secret-check')
    assert ours['Authorization'] == sdk
