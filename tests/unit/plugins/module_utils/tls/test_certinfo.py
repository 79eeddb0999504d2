# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls/certinfo.py: PEM bundles to DER."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.tls.certinfo import pem_to_ders


def test_pem_to_ders_roundtrip(pki):
    bundle = pki.root.pem + b'junk\n' + pki.inter.pem
    assert pem_to_ders(bundle) == [pki.root.der, pki.inter.der]
    with pytest.raises(ValueError):
        pem_to_ders(b'-----BEGIN CERTIFICATE-----\n!!!notbase64\n-----END CERTIFICATE-----\n')


def test_the_cache_is_bounded_and_keeps_what_is_used(pki):
    from ansible_collections.certpilot.tls.plugins.module_utils.tls.certinfo import CertCache
    cache = CertCache(size=3)
    leaves = [pki.leaf('l%d.unit.test' % i) for i in range(5)]
    inter = cache.get(pki.inter.der)
    for leaf in leaves:
        assert cache.get(leaf.der).der == leaf.der
        assert cache.get(pki.inter.der) is inter  # used all the time: never evicted
    assert len(cache) == 3
    assert cache.get(leaves[-1].der) is cache.get(leaves[-1].der)
    assert cache.get(leaves[0].der).der == leaves[0].der  # evicted, parsed again, still right
    assert len(cache) == 3
