# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls/verify.py (and its OpenSSL verdict): chain validation against the trust anchors."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.tls.certinfo import CertCache
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import iso_z
from ansible_collections.certpilot.tls.plugins.module_utils.tls.facts import Collector, Options
from ansible_collections.certpilot.tls.plugins.module_utils.tls.verify import ChainVerifier, HAS_POLICY_BUILDER
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.tls.tls_unit_helpers import DAY, NOW, issue


ENGINES = [False] + ([True] if HAS_POLICY_BUILDER else [])


def _verifier(pki, cache, use_policy_builder):
    return ChainVerifier([cache.get(pki.root.der)], NOW, use_policy_builder=use_policy_builder)


def _chain(cache, *issued):
    return [cache.get(i.der) for i in issued]


@pytest.mark.parametrize('engine', ENGINES)
def test_chain_verdicts_and_reasons(pki, engine):
    cache = CertCache()
    v = _verifier(pki, cache, engine)
    good = pki.leaf('good.unit.test')
    assert v.verify(_chain(cache, good, pki.inter)) == (True, None)

    valid, reason = v.verify(_chain(cache, good))
    assert valid is False and 'incomplete chain' in reason and 'unit intermediate' in reason

    expired = pki.leaf('expired.unit.test', not_before=NOW - 30 * DAY, not_after=NOW - DAY)
    valid, reason = v.verify(_chain(cache, expired, pki.inter))
    assert valid is False and reason == 'certificate expired at %s' % iso_z(NOW - DAY)

    under_old = pki.leaf('old.unit.test', issuer=pki.old_inter)
    valid, reason = v.verify(_chain(cache, under_old, pki.old_inter))
    assert valid is False and 'unit old intermediate' in reason and 'expired' in reason

    selfsigned = issue('self.unit.test', dns=['self.unit.test'])
    valid, reason = v.verify(_chain(cache, selfsigned))
    assert valid is False and 'self-signed' in reason

    stranger_root = issue('stranger root', ca=True)
    stranger = pki.leaf('stranger.unit.test', issuer=stranger_root)
    valid, reason = v.verify(_chain(cache, stranger, stranger_root))
    assert valid is False and 'untrusted root' in reason

    # A leaf whose issuer name matches but whose signature was made by another key.
    impostor_inter = issue('unit intermediate', ca=True)  # same subject, different key, self-signed
    forged = pki.leaf('forged.unit.test', issuer=impostor_inter)
    valid, reason = v.verify(_chain(cache, forged, pki.inter))
    assert valid is False and reason


def test_hostname_does_not_affect_chain_verdict(pki):
    cache = CertCache()
    v = _verifier(pki, cache, True)
    wildcard = pki.leaf('*.wild.unit.test', dns=['*.wild.unit.test'])
    ip_only = pki.leaf('ip', dns=[], ips=['192.0.2.5'])
    assert v.verify(_chain(cache, wildcard, pki.inter)) == (True, None)
    assert v.verify(_chain(cache, ip_only, pki.inter)) == (True, None)
    if HAS_POLICY_BUILDER:
        no_san = pki.leaf('nosan.unit.test', san=False)
        # OpenSSL validates the chain without a SAN (the name check is separate): valid, with a warning
        valid, reason, warnings = v.verify_full(_chain(cache, no_san, pki.inter))
        assert (valid, reason) == (True, None)
        assert len(warnings) == 1 and 'subjectAltName' in warnings[0]


def test_identical_chains_are_verified_once(pki, monkeypatch):
    cache = CertCache()
    v = _verifier(pki, cache, True)
    calls = []
    original = v._verify
    monkeypatch.setattr(v, '_verify', lambda chain: calls.append(1) or original(chain))
    leaf = pki.leaf('cached.unit.test')
    for _round in range(5):
        assert v.verify(_chain(cache, leaf, pki.inter))[0] is True
    assert len(calls) == 1
    # The cache parses each DER once too.
    assert cache.get(leaf.der) is cache.get(bytes(leaf.der))


def test_no_trust_anchors_is_never_valid(pki):
    cache = CertCache()
    v = ChainVerifier([], NOW)
    valid, reason = v.verify(_chain(cache, pki.leaf(), pki.inter))
    assert valid is False and 'no trust anchors' in reason


def test_private_ca_without_key_ids_or_key_usage_is_valid_with_warning():
    """OpenSSL (curl, nginx clients, Python) accepts it; the stricter validator's finding is only a warning."""
    cache = CertCache()
    root = issue('plain root', ca=True, plain=True, not_before=NOW - 10 * DAY, not_after=NOW + 900 * DAY)
    leaf = issue('plain.unit.test', issuer=root, dns=['plain.unit.test'], plain=True)
    verifier = ChainVerifier([cache.get(root.der)], NOW)
    assert verifier.engine == 'openssl'
    valid, reason, warnings = verifier.verify_full([cache.get(leaf.der)])
    assert (valid, reason) == (True, None)
    if HAS_POLICY_BUILDER:
        assert len(warnings) == 1 and 'stricter' in warnings[0]
    collector = Collector(Options(), roots=[cache.get(root.der)])
    result = collector.judge_chain({'name': 'x'}, [leaf.der], 'plain.unit.test')
    assert result['status'] == 'ok' and result['chain_valid'] is True
    assert result['chain_warnings'] == warnings


def test_openssl_verdict_rejects_what_clients_reject(pki):
    cache = CertCache()
    verifier = ChainVerifier([cache.get(pki.root.der)], NOW)
    # unknown CA, expired leaf, missing intermediate: OpenSSL says no, with the plain-language reason kept
    stranger_root = issue('stranger root', ca=True, plain=True)
    stranger = issue('s.unit.test', issuer=stranger_root, dns=['s.unit.test'], plain=True)
    valid, reason, warnings = verifier.verify_full([cache.get(stranger.der)])
    assert valid is False and 'unknown CA' in reason and warnings == []
    expired = pki.leaf(not_before=NOW - 10 * DAY, not_after=NOW - DAY)
    valid, reason, _w = verifier.verify_full(_chain(cache, expired, pki.inter))
    assert valid is False and 'expired' in reason
    valid, reason, _w = verifier.verify_full(_chain(cache, pki.leaf()))
    assert valid is False and 'issuer' in reason


def test_openssl_unavailable_fails_closed(pki, monkeypatch):
    from ansible_collections.certpilot.tls.plugins.module_utils.tls import openssl_verify

    def broken(*_args, **_kwargs):
        raise openssl_verify.OpenSSLUnavailable('libcrypto cannot be loaded')
    monkeypatch.setattr(openssl_verify, 'OpenSSLVerifier', broken)
    cache = CertCache()
    verifier = ChainVerifier([cache.get(pki.root.der)], NOW)
    valid, reason = verifier.verify(_chain(cache, pki.leaf(), pki.inter))
    assert valid is False and 'cannot run' in reason
