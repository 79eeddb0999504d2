# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib
import hmac

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import signer

pytestmark = pytest.mark.timeout(30)


def test_published_vector():
    # Alibaba Cloud's published RPC signature example (ECS DescribeRegions).
    params = {
        'AccessKeyId': 'testid', 'Action': 'DescribeRegions', 'Format': 'XML',
        'SignatureMethod': 'HMAC-SHA1', 'SignatureNonce': '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf',
        'SignatureVersion': '1.0', 'Timestamp': '2016-02-23T12:46:24Z', 'Version': '2014-05-26',
    }
    assert signer.sign('GET', params, 'testsecret') == 'OLeaidS1JvxuMvnyHOwuJ+uX5qY='


def test_published_vector_string_to_sign_shape():
    params = {'Timestamp': '2016-02-23T12:46:24Z', 'Action': 'DescribeRegions'}
    sts = signer.string_to_sign('get', params)
    # Method upper-cased, "/" encoded, the query itself encoded once more (":" -> %3A -> %253A).
    assert sts == 'GET&%2F&Action%3DDescribeRegions%26Timestamp%3D2016-02-23T12%253A46%253A24Z'


@pytest.mark.parametrize('raw,encoded', [
    ('a b', 'a%20b'),          # space is %20, never "+"
    ('*', '%2A'),              # "*" is encoded
    ('~', '~'),                # "~" stays
    ('-_.', '-_.'),            # other unreserved characters stay
    ('/', '%2F'),
    ('+', '%2B'),
    ('=&', '%3D%26'),
    (u'\u4e2d', '%E4%B8%AD'),   # UTF-8 bytes
    ('', ''),
    (443, '443'),
])
def test_percent_encode(raw, encoded):
    assert signer.percent_encode(raw) == encoded


def test_signature_changes_with_every_parameter_and_excludes_itself():
    base = {'Action': 'X', 'A': '1'}
    one = signer.sign('POST', base, 's')
    assert signer.sign('POST', dict(base, A='2'), 's') != one
    assert signer.sign('GET', base, 's') != one
    assert signer.sign('POST', base, 't') != one
    assert signer.sign('POST', dict(base, Signature='whatever'), 's') == one


def test_signed_params_common_parameters_and_verifiable():
    full = signer.signed_params('DescribeServerCertificates', {'RegionId': 'cn-hangzhou', 'Skip': None},
                                'AKID', 'SECRET', security_token='TOKEN')
    assert full['Format'] == 'JSON' and full['Version'] == '2014-05-15'
    assert full['SignatureMethod'] == 'HMAC-SHA1' and full['SignatureVersion'] == '1.0'
    assert full['SecurityToken'] == 'TOKEN' and full['AccessKeyId'] == 'AKID'
    assert 'Skip' not in full
    assert len(full['Timestamp']) == 20 and full['Timestamp'].endswith('Z')
    # independent recomputation of the HMAC
    unsigned = dict((k, v) for k, v in full.items() if k != 'Signature')
    query = '&'.join('%s=%s' % (signer.percent_encode(k), signer.percent_encode(v)) for k, v in sorted(unsigned.items()))
    sts = 'POST&%2F&' + signer.percent_encode(query)
    expected = base64.b64encode(hmac.new(b'SECRET&', sts.encode(), hashlib.sha1).digest()).decode()
    assert full['Signature'] == expected


def test_nonce_fresh_per_call():
    one = signer.signed_params('A', {}, 'k', 's')
    two = signer.signed_params('A', {}, 'k', 's')
    assert one['SignatureNonce'] != two['SignatureNonce']
