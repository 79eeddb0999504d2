# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.sources import chain_builder
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.tls.tls_unit_helpers import issue


def _subjects(certs):
    return [c.subject.rfc4514_string() for c in certs]


@pytest.fixture(scope='module')
def pki2():
    root = issue('r root', ca=True)
    inter1 = issue('r inter 1', issuer=root, ca=True)
    inter2 = issue('r inter 2', issuer=inter1, ca=True)
    leaf = issue('www.r.test', issuer=inter2, dns=['www.r.test'])
    return root, inter1, inter2, leaf


def test_any_order_gives_leaf_then_issuers_and_leaves_the_root_out(pki2):
    root, inter1, inter2, leaf = pki2
    chain = chain_builder.order([root.cert, inter1.cert, leaf.cert, inter2.cert], leaf.key)
    assert chain.leaf == leaf.cert
    assert _subjects(chain.intermediates) == ['CN=r inter 2', 'CN=r inter 1']
    assert chain.root == root.cert
    assert chain.unused == []
    assert chain.top == inter1.cert


def test_a_forged_issuer_with_the_right_name_is_not_used(pki2):
    root, inter1, inter2, leaf = pki2
    impostor = issue('r inter 2', issuer=root, ca=True)  # same name as inter2, other key
    chain = chain_builder.order([leaf.cert, impostor.cert], leaf.key)
    assert chain.intermediates == []
    assert chain.unused == [impostor.cert]


def test_a_key_of_no_certificate_is_refused(pki2):
    _root, inter1, _inter2, leaf = pki2
    other = issue('other', dns=['other.test'])
    with pytest.raises(CertpilotError, match='belongs to none of the 2 certificate'):
        chain_builder.order([leaf.cert, inter1.cert], other.key)


def test_of_two_leaves_with_one_key_the_longest_lived_wins(pki2):
    _root, _inter1, inter2, leaf = pki2
    import datetime
    longer = issue('www.r.test', issuer=inter2, dns=['www.r.test'], key=leaf.key,
                   not_after=leaf.cert.not_valid_after_utc + datetime.timedelta(days=30))
    chain = chain_builder.order([leaf.cert, longer.cert, inter2.cert], leaf.key)
    assert chain.leaf == longer.cert
    assert chain.unused == [leaf.cert]


def test_signed_by_needs_the_issuers_key_not_only_its_name(pki2):
    root, inter1, _inter2, _leaf = pki2
    assert chain_builder.signed_by(inter1.cert, root.cert)
    assert not chain_builder.signed_by(root.cert, inter1.cert)
    assert chain_builder.is_self_signed(root.cert)
    assert not chain_builder.is_self_signed(inter1.cert)
