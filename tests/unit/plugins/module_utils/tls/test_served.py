# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls/served.py: the one leaf-then-chain comparison of tls_expiry_facts (expect) and sftp_push (verify)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certpilot.tls.plugins.module_utils.tls.served import chain_text, served_mismatch

LEAF, OTHER_LEAF, INTER, OTHER_INTER, ROOT = ('%02x' % n * 32 for n in (1, 2, 3, 4, 5))


def test_match_with_and_without_a_chain():
    assert served_mismatch(LEAF, LEAF, expected_chain=[INTER, ROOT], served_chain=[INTER, ROOT]) is None
    assert served_mismatch(LEAF, LEAF, expected_chain=[], served_chain=[]) is None
    assert served_mismatch(LEAF, LEAF, expected_chain=[], served_chain=None) is None


def test_wrong_leaf_is_named_before_any_chain_check():
    why = served_mismatch(LEAF, OTHER_LEAF, expected_chain=[INTER], served_chain=[INTER])
    assert why == 'leaf %s served, expected %s' % (OTHER_LEAF, LEAF)
    assert served_mismatch(LEAF, '', expected_chain=None) == 'leaf no certificate served, expected %s' % LEAF


def test_wrong_chain_names_both_chains_in_order():
    why = served_mismatch(LEAF, LEAF, expected_chain=[INTER, ROOT], served_chain=[ROOT, INTER])
    assert why == 'right leaf, wrong chain: served [%s, %s], expected [%s, %s]' % (ROOT, INTER, INTER, ROOT)
    why = served_mismatch(LEAF, LEAF, expected_chain=[INTER], served_chain=[OTHER_INTER])
    assert OTHER_INTER in why and INTER in why.split('expected')[1]
    # An empty expected chain is a real expectation: "no intermediate".
    why = served_mismatch(LEAF, LEAF, expected_chain=[], served_chain=[INTER])
    assert why == 'right leaf, wrong chain: served [%s], expected no intermediate' % INTER
    why = served_mismatch(LEAF, LEAF, expected_chain=[INTER], served_chain=[])
    assert why == 'right leaf, wrong chain: served no intermediate, expected [%s]' % INTER


def test_no_expected_chain_compares_the_leaf_only():
    assert served_mismatch(LEAF, LEAF, expected_chain=None, served_chain=[OTHER_INTER]) is None
    assert served_mismatch(LEAF, OTHER_LEAF, expected_chain=None, served_chain=[]).startswith('leaf ')


def test_chain_text():
    assert chain_text([]) == chain_text(None) == 'no intermediate'
    assert chain_text([INTER, ROOT]) == '[%s, %s]' % (INTER, ROOT)
