# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SDK-HMAC-SHA256 against the example of Huawei's API signing guide, and its own round trip."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib

from ansible_collections.certpilot.tls.plugins.module_utils.huaweicloud import signer

# The worked example of Huawei Cloud's "API Request Signing Guide" (AK/SK signing and authentication):
# GET https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs?limit=2&marker=13551d6b-...
# with Content-Type: application/json and X-Sdk-Date: 20191115T033655Z. The guide publishes the hashed
# canonical request, the signature and the Authorization header below.
DOC_AK = 'QTWAOYTTINDUT2QVKYUC'
DOC_SK = 'MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc'
DOC_URL = 'https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs'
DOC_QUERY = [('limit', '2'), ('marker', '13551d6b-755d-4757-b956-536f674975c0')]
DOC_HASHED_CANONICAL = 'b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a'
DOC_SIGNATURE = '7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe'
DOC_AUTHORIZATION = ('SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, '
                     'Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe')


def _doc_headers():
    return {'Content-Type': 'application/json', 'X-Sdk-Date': '20191115T033655Z'}


def test_documented_example_vector():
    headers = signer.sign('GET', DOC_URL, list(reversed(DOC_QUERY)), _doc_headers(), b'', DOC_AK, DOC_SK)
    assert headers['Authorization'] == DOC_AUTHORIZATION
    assert headers['Host'] == 'service.region.example.com'
    canonical, names = signer.canonical_request('GET', '/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs', DOC_QUERY,
                                                dict(_doc_headers(), Host='service.region.example.com'), None)
    assert names == ['content-type', 'host', 'x-sdk-date']
    assert hashlib.sha256(canonical.encode()).hexdigest() == DOC_HASHED_CANONICAL
    assert signer.signature(DOC_SK, signer.string_to_sign(canonical, '20191115T033655Z')) == DOC_SIGNATURE


def test_another_secret_gives_another_signature():
    headers = signer.sign('GET', DOC_URL, DOC_QUERY, _doc_headers(), b'', DOC_AK, DOC_SK + 'x')
    assert DOC_SIGNATURE not in headers['Authorization']


def test_canonical_uri_encodes_segments_and_ends_with_a_slash():
    assert signer.canonical_uri('/v3/scm/certificates') == '/v3/scm/certificates/'
    assert signer.canonical_uri('/a b/c%2Fd/') == '/a%20b/c/d/'
    assert signer.canonical_uri('') == '/'


def test_canonical_query_sorted_encoded_and_bools_lowercase():
    text = signer.canonical_query([('z', 'a b'), ('a', True), ('m', ['2', '1']), ('k', '~*')])
    assert text == 'a=true&k=~%2A&m=1&m=2&z=a%20b'


def test_underscore_headers_are_not_signed():
    assert signer.signed_header_names({'X_Custom': '1', 'Host': 'h', 'X-Sdk-Date': 'd'}) == ['host', 'x-sdk-date']


def test_date_is_taken_fresh_in_the_sdk_format():
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    headers = signer.sign('POST', 'http://127.0.0.1:8443/v3/x', [], {}, b'{}', 'ak', 'sk', now=when)
    assert headers['X-Sdk-Date'] == '20260102T030405Z'
    assert headers['Host'] == '127.0.0.1:8443'


def test_verify_round_trip_and_tampering():
    headers = signer.sign('POST', 'https://h/v3/x', [('q', '1')], {'Content-Type': 'application/json'}, b'{"a":1}',
                          'ak', 'sk')
    access, names, sig = signer.parse_authorization(headers['Authorization'])
    assert access == 'ak'
    assert signer.verify('POST', '/v3/x', [('q', '1')], headers, b'{"a":1}', 'sk', names, sig)
    assert not signer.verify('POST', '/v3/x', [('q', '2')], headers, b'{"a":1}', 'sk', names, sig)
    assert not signer.verify('POST', '/v3/x', [('q', '1')], headers, b'{"a":2}', 'sk', names, sig)
    assert not signer.verify('POST', '/v3/x', [('q', '1')], headers, b'{"a":1}', 'other', names, sig)


def test_unsigned_payload_header_replaces_the_body_hash():
    headers = {'X-Sdk-Content-Sha256': 'UNSIGNED-PAYLOAD'}
    assert signer.payload_hash(b'anything', headers) == 'UNSIGNED-PAYLOAD'
    assert signer.payload_hash(b'', headers) == signer.EMPTY_HASH


def test_parse_authorization_refuses_malformed_values():
    assert signer.parse_authorization('Basic abc') is None
    assert signer.parse_authorization('SDK-HMAC-SHA256 Access=a, SignedHeaders=') is None
