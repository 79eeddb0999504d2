# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure logic of the CDN certificate module: answer validation, what a domain item asks for, idempotence,
read-back after a change (with a fake clock), per-domain failures."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import cdn
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.errors import AlicloudApiError
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.alicloud.fake_clock import FakeClock


def _answer(**entry):
    base = {'DomainName': 'static.example.test', 'ServerCertificateStatus': 'on'}
    base.update(entry)
    return {'RequestId': 'R', 'CertInfos': {'CertInfo': [base]}}


@pytest.fixture(scope='module')
def material(mini_ca):
    from slb_api.certs import key_pem
    cert, key = mini_ca.issue('static.example.test')
    other, other_key = mini_ca.issue('other.example.test', kind='ec')
    return {'cert': mini_ca.fullchain(cert), 'key': key_pem(key, 'pkcs8'), 'leaf': cert,
            'other': mini_ca.fullchain(other), 'other_key': key_pem(other_key, 'pkcs8')}


def test_parse_reads_cas_and_served_certificate(material):
    state = cdn.parse_certificate_info(_answer(CertType='cas', CertId=12000001, CertRegion='cn-hangzhou',
                                               CertName='www', ServerCertificate=material['cert'],
                                               CertExpireTime='2027-03-01T00:00:00Z', Status='success'),
                                       'static.example.test')
    from slb_api.certs import fingerprint_sha256
    assert state['certificate_id'] == '12000001' and state['certificate_type'] == 'cas'
    assert state['fingerprint_sha256'] == fingerprint_sha256(material['leaf']).replace(':', '')
    assert state['common_name'] == 'static.example.test' and state['ssl_protocol'] == 'on'


@pytest.mark.parametrize('entry,needle', [
    ({'ServerCertificateStatus': 'maybe'}, 'not on or off'),
    ({'CertId': 'abc'}, 'not a number'),
    ({'CertName': ['x']}, 'is a list'),
    ({'CertName': 'x' * 2000}, 'characters long'),
    ({'ServerCertificate': 'not a certificate'}, 'not a PEM certificate'),
    ({'CertType': 'cas; drop'}, 'unexpected value'),
])
def test_parse_refuses_malformed_answers(entry, needle):
    with pytest.raises(CertpilotError) as info:
        cdn.parse_certificate_info(_answer(**entry), 'static.example.test')
    assert needle in info.value.msg


def test_parse_refuses_non_lists_and_too_many_entries():
    with pytest.raises(CertpilotError):
        cdn.parse_certificate_info({'CertInfos': {'CertInfo': 'x'}}, 'a.example.test')
    with pytest.raises(CertpilotError):
        cdn.parse_certificate_info({'CertInfos': {'CertInfo': [{}] * 17}}, 'a.example.test')
    # no entry for the domain: HTTPS off
    assert cdn.parse_certificate_info({'CertInfos': {'CertInfo': []}}, 'a.example.test')['ssl_protocol'] == 'off'


def test_wanted_state_forms(material):
    wanted, params = cdn.wanted_state({'domain_name': 'Static.Example.Test.', 'certificate_id': '12000001-cn-hangzhou'})
    assert wanted['domain_name'] == 'static.example.test'
    assert params == {'DomainName': 'static.example.test', 'SSLProtocol': 'on', 'CertType': 'cas',
                      'CertId': '12000001', 'CertRegion': 'cn-hangzhou'}
    wanted, params = cdn.wanted_state({'domain_name': 'a.example.test', 'certificate': material['other'],
                                       'private_key': material['other_key'], 'certificate_name': 'mine'})
    assert wanted['key_type'] == 'ECDSA' and params['CertType'] == 'upload' and params['CertName'] == 'mine'
    assert 'BEGIN EC PRIVATE KEY' in params['SSLPri'] and 'SSLPri' not in wanted
    wanted, params = cdn.wanted_state({'domain_name': 'a.example.test', 'ssl_protocol': 'off'})
    assert params == {'DomainName': 'a.example.test', 'SSLProtocol': 'off'}


@pytest.mark.parametrize('spec,needle', [
    ({'domain_name': 'bad domain'}, 'not a valid CDN domain'),
    ({'domain_name': 'a.example.test'}, 'needs certificate_id'),
    ({'domain_name': 'a.example.test', 'certificate_id': 'x1'}, 'not a CAS certificate id'),
    ({'domain_name': 'a.example.test', 'certificate_id': '1', 'certificate_region': 'cn-beijing'}, 'certificate_region'),
    ({'domain_name': 'a.example.test', 'certificate_id': '1', 'ssl_protocol': 'off'}, 'takes no certificate'),
    ({'domain_name': 'a.example.test', 'certificate_id': '1', 'certificate': 'x', 'private_key': 'y'}, 'not both'),
])
def test_wanted_state_refuses(spec, needle):
    with pytest.raises(CertpilotError) as info:
        cdn.wanted_state(spec)
    assert needle in info.value.msg


class _Api:
    """Answers of DescribeDomainCertificateInfo in sequence (the last one repeats); records the Set calls."""

    def __init__(self, answers, fail=None):
        self.answers = list(answers)
        self.sets = []
        self.fail = fail or {}
        self.clock = FakeClock()
        self.sleep = self.clock.sleep

    def certificate_info(self, domain):
        if domain in self.fail:
            raise self.fail[domain]
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return cdn.parse_certificate_info(answer, domain)

    def set_certificate(self, params):
        self.sets.append(params)


def test_same_certificate_is_not_sent_again():
    api = _Api([_answer(CertType='cas', CertId='7', CertRegion='cn-hangzhou')])
    res = cdn.ensure_domain(api, {'domain_name': 'static.example.test', 'certificate_id': '7'})
    assert res['changed'] is False and res['verified'] is True and api.sets == []


def test_change_is_read_back_and_previous_is_kept():
    old = _answer(CertType='cas', CertId='6', CertRegion='cn-hangzhou', CertName='old')
    new = _answer(CertType='cas', CertId='7', CertRegion='cn-hangzhou')
    api = _Api([old, old, new])  # before, one poll still showing the old one, then the new one
    res = cdn.ensure_domain(api, {'domain_name': 'static.example.test', 'certificate_id': '7'})
    assert res['changed'] and res['verified'] and len(api.sets) == 1
    assert res['previous']['certificate_id'] == '6' and res['previous']['certificate_name'] == 'old'
    assert res['current']['certificate_id'] == '7'


def test_check_mode_sends_nothing_and_predicts():
    api = _Api([_answer(CertType='cas', CertId='6')])
    res = cdn.ensure_domain(api, {'domain_name': 'static.example.test', 'certificate_id': '7'}, check_mode=True)
    assert res['changed'] and res['dry_run'] and api.sets == []
    assert res['current']['certificate_id'] == '7' and res['current']['expire_time'] is None


def test_change_that_never_shows_fails_within_the_deadline():
    old = _answer(CertType='cas', CertId='6')
    api = _Api([old])
    with pytest.raises(CertpilotError) as info:
        cdn.ensure_domain(api, {'domain_name': 'static.example.test', 'certificate_id': '7'}, wait_timeout=5)
    assert 'does not show the requested certificate CAS 7' in info.value.msg and 'CAS 6' in info.value.msg
    assert info.value.details['previous']['certificate_id'] == '6'
    assert 3 < api.clock.now <= 5  # polled until the deadline, never past it


def test_upload_is_recognised_by_fingerprint(material):
    served = _answer(CertType='upload', CertName='whatever', ServerCertificate=material['cert'])
    api = _Api([served])
    res = cdn.ensure_domain(api, {'domain_name': 'static.example.test', 'certificate': material['cert'],
                                  'private_key': material['key']})
    assert res['changed'] is False and api.sets == []
    api = _Api([served])
    res = cdn.ensure_domain(api, {'domain_name': 'static.example.test', 'certificate': material['other'],
                                  'private_key': material['other_key']}, check_mode=True)
    assert res['changed'] is True


def test_bulk_names_failures_with_code_and_request_id():
    error = AlicloudApiError('DescribeDomainCertificateInfo', 'InvalidDomain.NotFound', 'The domain provided does not '
                             'belong to you.', request_id='REQ-1', http_status=404)
    api = _Api([_answer(DomainName='a.example.test', CertType='cas', CertId='6')], fail={'b.example.test': error})
    out = cdn.ensure_domains(api, [{'domain_name': 'a.example.test', 'certificate_id': '6'},
                                   {'domain_name': 'b.example.test', 'certificate_id': '6'}], concurrency=2)
    assert out['failed_items'] == [{'domain_name': 'b.example.test', 'msg': error.msg,
                                    'error_code': 'InvalidDomain.NotFound', 'request_id': 'REQ-1'}]
    assert [r.get('failed', False) for r in out['results']] == [False, True]
    assert out['diff']['before']['cdn_domains'].keys() == {'a.example.test'}
    with pytest.raises(CertpilotError) as info:
        cdn.ensure_domains(api, [{'domain_name': 'a.example.test'}, {'domain_name': 'A.example.test.'}])
    assert 'more than once' in info.value.msg
