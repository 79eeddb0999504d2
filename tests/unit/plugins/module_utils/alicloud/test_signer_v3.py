# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Signature V3 against the worked example of Alibaba's documentation.

Source: "V3 request structure and signature" (Alibaba Cloud SDK docs),
https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature
(Chinese original: https://help.aliyun.com/document_detail/2593177.html), section "Signature example":
POST https://ecs.cn-shanghai.aliyuncs.com/?ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai,
RunInstances 2014-05-26, x-acs-date 2023-10-26T10:22:32Z, nonce 3156853299f313e23d1673dc12e1703d, empty body,
AccessKey YourAccessKeyId / YourAccessKeySecret; hashed canonical request 7ea06492...e259, signature 06563a9e...83c0.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import signer_v3

DOC_QUERY = {'ImageId': 'win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd', 'RegionId': 'cn-shanghai'}
DOC_HASHED_CANONICAL = '7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259'
DOC_SIGNATURE = '06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0'


def _doc_headers():
    return signer_v3.sign_request('POST', 'ecs.cn-shanghai.aliyuncs.com', '/', DOC_QUERY, b'', 'RunInstances',
                                  '2014-05-26', 'YourAccessKeyId', 'YourAccessKeySecret',
                                  date='2023-10-26T10:22:32Z', nonce='3156853299f313e23d1673dc12e1703d')


def test_documentation_example_vector():
    headers = _doc_headers()
    assert headers['x-acs-content-sha256'] == 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    canonical, signed = signer_v3.canonical_request('POST', '/', DOC_QUERY, headers, headers['x-acs-content-sha256'])
    assert signed == 'host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version'
    assert hashlib.sha256(canonical.encode()).hexdigest() == DOC_HASHED_CANONICAL
    assert signer_v3.string_to_sign(canonical) == 'ACS3-HMAC-SHA256\n' + DOC_HASHED_CANONICAL
    assert headers['Authorization'] == (
        'ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;'
        'x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=' + DOC_SIGNATURE)


def test_a_different_secret_or_body_changes_the_signature():
    base = _doc_headers()['Authorization']
    other = signer_v3.sign_request('POST', 'ecs.cn-shanghai.aliyuncs.com', '/', DOC_QUERY, b'', 'RunInstances',
                                   '2014-05-26', 'YourAccessKeyId', 'YourAccessKeySecreT',
                                   date='2023-10-26T10:22:32Z', nonce='3156853299f313e23d1673dc12e1703d')
    assert other['Authorization'] != base
    body = signer_v3.sign_request('POST', 'ecs.cn-shanghai.aliyuncs.com', '/', DOC_QUERY, b'a=1', 'RunInstances',
                                  '2014-05-26', 'YourAccessKeyId', 'YourAccessKeySecret',
                                  content_type='application/x-www-form-urlencoded',
                                  date='2023-10-26T10:22:32Z', nonce='3156853299f313e23d1673dc12e1703d')
    assert body['x-acs-content-sha256'] == hashlib.sha256(b'a=1').hexdigest()
    assert 'SignedHeaders=content-type;host;' in body['Authorization']


def test_security_token_is_a_signed_header():
    headers = signer_v3.sign_request('POST', 'cas.aliyuncs.com', '/', {}, b'', 'ListUserCertificateOrder',
                                     '2020-04-07', 'STS.id', 'sk', security_token='tok')
    assert headers['x-acs-security-token'] == 'tok'
    assert 'x-acs-security-token' in signer_v3.parse_authorization(headers['Authorization'])['SignedHeaders'].split(';')


def test_encoding_rules():
    assert signer_v3.percent_encode('a b*c~d/é') == 'a%20b%2Ac~d%2F%C3%A9'
    assert signer_v3.canonical_query([('b', 'x y'), ('a', None), ('A', '1')]) == 'A=1&a=&b=x%20y'
    assert signer_v3.canonical_uri('/api/v1/a b') == '/api/v1/a%20b'
    text, names = signer_v3.canonical_headers({'Host': ' h ', 'X-Acs-B': 'v', 'User-Agent': 'ua', 'x-acs-a': '1'})
    assert names == 'host;x-acs-a;x-acs-b' and text == 'host:h\nx-acs-a:1\nx-acs-b:v\n'


def test_parse_authorization():
    parsed = signer_v3.parse_authorization(_doc_headers()['Authorization'])
    assert parsed['algorithm'] == 'ACS3-HMAC-SHA256' and parsed['Credential'] == 'YourAccessKeyId'
    assert parsed['Signature'] == DOC_SIGNATURE
    assert signer_v3.parse_authorization('') is None
