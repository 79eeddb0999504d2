# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_import's logic against a real store directory and the real chain verifier (OpenSSL)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import CertStore, imported_source
from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509lib
from ansible_collections.certpilot.tls.plugins.module_utils.sources.importer import Importer
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.tls.tls_unit_helpers import issue


@pytest.fixture(scope='module')
def corp():
    root = issue('corp root', ca=True, plain=True)  # an internal PKI without key identifiers or keyUsage
    inter = issue('corp inter', issuer=root, ca=True, plain=True)
    leaf = issue('www.corp.test', issuer=inter, dns=['www.corp.test'], plain=True)
    return root, inter, leaf


@pytest.fixture
def trust(tmp_path, corp):
    path = tmp_path / 'corp-root.pem'
    path.write_bytes(corp[0].pem)
    return str(path)


def _importer(tmp_path, trust, **kw):
    return Importer(str(tmp_path / 'store'), ca_bundle=trust, system_roots=False, **kw)


def test_import_writes_a_generation_the_store_serves_and_a_second_run_is_unchanged(tmp_path, trust, corp):
    root, inter, leaf = corp
    spec = {'name': 'www', 'source': 'corp CA (pki@corp.test)', 'domains': ['www.corp.test'],
            'pem_content': [(root.pem + leaf.pem + inter.pem + leaf.key_pem).decode()]}
    results, failed = _importer(tmp_path, trust).run([spec])
    assert failed == []
    www = results['www']
    assert (www['action'], www['changed'], www['previous_generation']) == ('imported', True, None)
    assert [c['subject'] for c in www['chain']] == ['CN=corp inter']
    assert www['root_left_out'] == 'CN=corp root'
    store = CertStore(str(tmp_path / 'store'))
    folder = store.current_dir('www')
    with open(os.path.join(folder, 'fullchain.pem'), 'rb') as handle:
        assert handle.read() == leaf.pem + inter.pem
    assert stat.S_IMODE(os.stat(os.path.join(folder, 'privkey.pem')).st_mode) == 0o600
    issuer = store.load_json('www', 'issuer.json')
    assert imported_source(issuer) == 'corp CA (pki@corp.test)'
    assert 'directory' not in issuer
    before = store.generations('www')

    again, failed = _importer(tmp_path, trust).run([dict(spec, pem_content=[(inter.pem + leaf.pem + leaf.key_pem).decode()])])
    assert failed == [] and again['www']['action'] == 'unchanged' and again['www']['changed'] is False
    assert store.generations('www') == before


def test_one_bad_certificate_does_not_stop_the_others_and_every_problem_is_named(tmp_path, trust, corp):
    root, inter, leaf = corp
    weak_key = rsa.generate_private_key(65537, 1024)
    weak = issue('old.corp.test', issuer=inter, dns=['old.corp.test'], key=weak_key, plain=True)
    orphan = issue('lost.corp.test', issuer=issue('other inter', issuer=root, ca=True), dns=['lost.corp.test'])
    specs = [
        {'name': 'weak', 'source': 's', 'domains': ['new.corp.test'], 'pem_content': [(weak.pem + inter.pem + weak.key_pem).decode()]},
        {'name': 'orphan', 'source': 's', 'pem_content': [(orphan.pem + orphan.key_pem).decode()]},
        {'name': 'www', 'source': 's', 'pem_content': [(leaf.pem + inter.pem + leaf.key_pem).decode()]},
        {'name': 'www', 'source': 's', 'pem_content': [(leaf.pem + inter.pem + leaf.key_pem).decode()]},
    ]
    results, failed = _importer(tmp_path, trust).run(specs)
    assert failed == ['weak', 'orphan', 'www']
    assert results['www']['action'] == 'failed' and 'given twice' in results['www']['msg']
    assert 'fewer than the 2048' in results['weak']['msg'] and 'does not cover new.corp.test' in results['weak']['msg']
    assert 'CN=other inter' in results['orphan']['msg'], 'the missing intermediate is named'
    store = CertStore(str(tmp_path / 'store'))
    assert store.current_generation('weak') is None and store.current_generation('orphan') is None
    # the first www was imported before its duplicate failed
    assert store.current_generation('www') is not None


def test_check_mode_writes_nothing(tmp_path, trust, corp):
    _root, inter, leaf = corp
    spec = {'name': 'www', 'source': 's', 'pem_content': [(leaf.pem + inter.pem + leaf.key_pem).decode()]}
    results, failed = _importer(tmp_path, trust, check_mode=True).run([spec])
    assert failed == [] and results['www']['changed'] is True and results['www']['generation'] is None
    assert not os.path.exists(str(tmp_path / 'store' / 'www'))


def test_an_acme_certificate_is_replaced_only_when_asked(tmp_path, trust, corp):
    _root, inter, leaf = corp
    store = CertStore(str(tmp_path / 'store'))
    acme = issue('www.corp.test', dns=['www.corp.test'])
    store.install('www', {'cert.pem': acme.pem, 'fullchain.pem': acme.pem, 'chain.pem': b'', 'privkey.pem': acme.key_pem,
                          'issuer.json': json.dumps({'directory': 'https://acme.test/dir'}).encode()})
    spec = {'name': 'www', 'source': 's', 'pem_content': [(leaf.pem + inter.pem + leaf.key_pem).decode()]}
    results, failed = _importer(tmp_path, trust).run([spec])
    assert failed == ['www'] and 'issued by the ACME directory https://acme.test/dir' in results['www']['msg']
    results, failed = _importer(tmp_path, trust, replace_acme=True).run([spec])
    assert failed == [] and results['www']['previous']['fingerprint_sha256'] == x509lib.fingerprint_sha256(acme.cert)
    assert results['www']['previous_generation'] == '1'


def test_chain_check_that_cannot_find_a_trust_anchor_fails(tmp_path, corp):
    _root, inter, leaf = corp
    spec = {'name': 'www', 'source': 's', 'pem_content': [(leaf.pem + inter.pem + leaf.key_pem).decode()]}
    results, failed = Importer(str(tmp_path / 'store'), system_roots=False).run([spec])
    assert failed == ['www'] and 'the chain does not verify' in results['www']['msg']
    results, failed = Importer(str(tmp_path / 'store'), system_roots=False, validate_chain=False).run([spec])
    assert failed == []
