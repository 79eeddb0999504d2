# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme/problems.py: problem documents as one message, the problem types, OrderFailed and its kinds."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme import problems
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import (
    ACME_NS, ALREADY_REPLACED, BAD_NONCE, AcmeProblem, OrderFailed, OrderInvalid, ValidationFailed, describe_problem,
    problem_type, short_type)


def test_describe_problem_without_json():
    assert describe_problem({'detail': 'x'}, {'type': 'ip', 'value': '10.0.0.1'}) == '10.0.0.1: about:blank: x'


def test_describe_problem_names_each_subproblem():
    doc = {'type': ACME_NS + 'rejectedIdentifier', 'detail': 'no',
           'subproblems': [{'type': ACME_NS + 'caa', 'detail': 'CAA forbids',
                            'identifier': {'type': 'dns', 'value': 'a.example'}}, 'not a dict']}
    assert describe_problem(doc, 'order') == 'order: rejectedIdentifier: no; a.example: caa: CAA forbids'


def test_the_problem_types_are_the_rfc_names():
    """Each constant is its own name in RFC 8555 section 6.7 / RFC 9773 section 7.4 form (camelCase, no URN)."""
    names = dict((k, v) for k, v in vars(problems).items() if k.isupper() and k != 'ACME_NS')
    assert len(names) >= 25 and len(set(names.values())) == len(names)
    for const, name in names.items():
        assert const == ''.join('_' + c if c.isupper() else c.upper() for c in name).lstrip('_').replace('C_S_R', 'CSR')
    assert problem_type(BAD_NONCE) == 'urn:ietf:params:acme:error:badNonce'
    assert short_type(problem_type(ALREADY_REPLACED)) == 'alreadyReplaced'
    assert short_type(None) == 'about:blank' and short_type('https://example/x') == 'https://example/x'


def test_acme_problem_fields_and_message():
    exc = AcmeProblem({'type': problem_type(ALREADY_REPLACED), 'detail': 'replaced by order 7',
                       'identifier': {'type': 'dns', 'value': 'www.example'}}, status=409, url='https://ca/new-order',
                      what='creating an order')
    assert exc.is_type(ALREADY_REPLACED) and not exc.is_type(BAD_NONCE)
    assert exc.msg == 'creating an order failed: www.example: alreadyReplaced: replaced by order 7 (HTTP 409)'
    assert exc.details['acme_problem']['status'] == 409 and exc.details['url'] == 'https://ca/new-order'
    assert exc.mentions('ORDER 7') and not exc.mentions('replaces')


def test_order_failed_kinds():
    bare = OrderFailed('www: the order is valid')
    assert isinstance(bare, CertpilotError) and not isinstance(bare, AcmeProblem)
    assert bare.msg == 'www: the order is valid' and bare.details == {}
    invalid = OrderInvalid({'type': problem_type('connection'), 'detail': 'refused'}, identifier='www',
                           what='the order')
    validation = ValidationFailed({'type': problem_type('incorrectResponse'), 'detail': 'wrong content'},
                                  identifier='www.example', what='http-01 validation')
    for exc in (invalid, validation):
        # an OrderFailed that still carries everything of the CA's problem document
        assert isinstance(exc, OrderFailed) and isinstance(exc, AcmeProblem)
        assert exc.details['acme_problem']['detail'] in exc.msg
    assert validation.msg == 'http-01 validation failed: www.example: incorrectResponse: wrong content'
    assert not isinstance(invalid, ValidationFailed) and not isinstance(validation, OrderInvalid)
    with pytest.raises(OrderFailed):
        raise validation
