# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme/bundle.py: the facts and contents certpilot.tls.cert_bundle returns, on real keys and certificates."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib
import os
import ssl

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.certpilot.tls.plugins.module_utils.acme.bundle import MAX_FILE_BYTES, read_bundles
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError

NOW = datetime.datetime(2026, 12, 2, 12, 0, 0, tzinfo=datetime.timezone.utc)


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert(subject_key, cn, issuer_key=None, issuer_cn=None, serial=0x1234abcd):
    issuer_key = issuer_key or subject_key
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn or cn)]))
               .public_key(subject_key.public_key()).serial_number(serial)
               .not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=90)))
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _sha(pem):
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.decode())).hexdigest()


def _write(store, name, files):
    folder = os.path.join(str(store), name)
    os.makedirs(folder, exist_ok=True)
    for fname, data in files.items():
        with open(os.path.join(folder, fname), 'wb') as handle:
            handle.write(data)


@pytest.fixture
def issued(tmp_path):
    """A store with 'www': leaf signed by an intermediate signed by a root; fullchain = leaf + intermediate + root."""
    root_key, inter_key, leaf_key = _key(), _key(), _key()
    root = _pem(_cert(root_key, 'Root'))
    inter = _pem(_cert(inter_key, 'Intermediate', root_key, 'Root', serial=2))
    leaf = _pem(_cert(leaf_key, 'www.example.test', inter_key, 'Intermediate', serial=0x1234abcd))
    files = {'cert.pem': leaf, 'chain.pem': inter + root, 'fullchain.pem': leaf + inter + root,
             'privkey.pem': _key_pem(leaf_key)}
    _write(tmp_path, 'www', files)
    return tmp_path, files, (leaf, inter, root)


def test_facts_and_contents_of_a_good_certificate(issued):
    store, files, (leaf, inter, root) = issued
    certificates, bundle = read_bundles(str(store), ['www'], ['fullchain', 'chain', 'privkey', 'cert'])
    facts = certificates['www']
    assert facts == {'match': True, 'missing': False, 'fingerprint_sha256': _sha(leaf), 'serial': '1234abcd',
                     'not_after': '2027-03-02T12:00:00Z', 'chain_sha256': [_sha(inter), _sha(root)], 'revoked': None,
                     'error': None}
    assert bundle == {'www': {'fullchain': files['fullchain.pem'].decode(), 'chain': files['chain.pem'].decode(),
                              'privkey': files['privkey.pem'].decode(), 'cert': files['cert.pem'].decode()}}


def test_only_the_parts_asked_for_and_no_key_in_the_facts(issued):
    store, files, dummy = issued
    certificates, bundle = read_bundles(str(store), ['www', 'www'], ['fullchain'])
    assert list(bundle['www']) == ['fullchain']
    assert list(certificates) == ['www']
    key_body = files['privkey.pem'].decode().splitlines()[1]
    assert 'PRIVATE KEY' not in repr(certificates) and key_body not in repr(certificates)
    checked, none = read_bundles(str(store), ['www'], [])
    assert none == {'www': {}} and checked == certificates


def test_a_key_that_does_not_match_is_reported_and_never_returned(issued):
    store, files, dummy = issued
    other = _key_pem(_key())
    _write(store, 'www', {'privkey.pem': other})
    certificates, bundle = read_bundles(str(store), ['www'], ['fullchain', 'privkey'])
    assert certificates['www']['match'] is False
    assert certificates['www']['error'] == 'the private key does not match the certificate'
    assert certificates['www']['fingerprint_sha256']  # the certificate itself is fine
    assert bundle == {}


def test_missing_certificate_is_missing_other_read_errors_are_not(issued):
    store, files, dummy = issued
    certificates, bundle = read_bundles(str(store), ['www', 'new'], ['fullchain', 'privkey'])
    assert certificates['new']['missing'] is True and certificates['new']['match'] is False
    assert 'cannot read %s' % os.path.join(str(store), 'new', 'fullchain.pem') in certificates['new']['error']
    assert list(bundle) == ['www']
    # a directory where the key should be: unreadable, but not "not issued yet"
    _write(store, 'odd', {'fullchain.pem': files['fullchain.pem']})
    os.mkdir(os.path.join(str(store), 'odd', 'privkey.pem'))
    certificates, dummy = read_bundles(str(store), ['odd'], [])
    assert certificates['odd']['missing'] is False and certificates['odd']['match'] is False
    assert 'privkey.pem' in certificates['odd']['error']


def test_a_part_asked_for_must_exist(issued):
    store, dummy, dummy2 = issued
    os.unlink(os.path.join(str(store), 'www', 'chain.pem'))
    certificates, bundle = read_bundles(str(store), ['www'], ['fullchain'])
    assert certificates['www']['match'] is True and bundle['www']
    certificates, bundle = read_bundles(str(store), ['www'], ['fullchain', 'chain'])
    assert certificates['www']['match'] is False and 'chain.pem' in certificates['www']['error']
    assert bundle == {}


@pytest.mark.parametrize('fname,data,expect', [
    ('fullchain.pem', b'not a certificate\n', 'contains no PEM'),
    ('fullchain.pem', b'\xff\xfe binary', 'not a PEM text file'),
    ('privkey.pem', b'-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', 'unreadable private key'),
    ('privkey.pem', b'x' * (MAX_FILE_BYTES + 1), 'larger than'),
])
def test_broken_files_are_errors_of_their_certificate(issued, fname, data, expect):
    store, dummy, dummy2 = issued
    _write(store, 'www', {fname: data})
    certificates, bundle = read_bundles(str(store), ['www'], ['fullchain', 'privkey'])
    assert certificates['www']['match'] is False and expect in certificates['www']['error']
    assert certificates['www']['chain_sha256'] == [] and bundle == {}
    assert 'AAAA' not in certificates['www']['error']


def test_encrypted_key_is_an_error_not_a_crash(issued):
    store, dummy, dummy2 = issued
    key = _key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.BestAvailableEncryption(b'secret'))
    _write(store, 'www', {'privkey.pem': key})
    certificates, dummy3 = read_bundles(str(store), ['www'], ['privkey'])
    assert certificates['www']['error'].startswith('unreadable private key')


def test_self_signed_without_chain(tmp_path):
    key = _key()
    leaf = _pem(_cert(key, 'solo'))
    _write(tmp_path, 'solo', {'fullchain.pem': leaf, 'chain.pem': b'', 'privkey.pem': _key_pem(key)})
    certificates, bundle = read_bundles(str(tmp_path), ['solo'], ['fullchain', 'chain'])
    assert certificates['solo']['match'] is True and certificates['solo']['chain_sha256'] == []
    assert bundle['solo']['chain'] == ''


@pytest.mark.parametrize('names,include,expect', [
    (['../etc'], [], 'invalid certificate name'),
    (['ok', '/abs'], [], 'invalid certificate name'),
    (['ok'], ['password'], 'unknown bundle part'),
])
def test_bad_input_fails_before_reading(tmp_path, names, include, expect):
    with pytest.raises(CertpilotError) as err:
        read_bundles(str(tmp_path), names, include)
    assert expect in err.value.msg


def _set(cn, serial):
    key = _key()
    cert = _pem(_cert(key, cn, serial=serial))
    return {'cert.pem': cert, 'chain.pem': b'', 'fullchain.pem': cert, 'privkey.pem': _key_pem(key)}


def test_a_switch_between_two_reads_never_mixes_two_generations(tmp_path, monkeypatch):
    from ansible_collections.certpilot.tls.plugins.module_utils.acme import bundle
    from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import CertStore
    store = CertStore(str(tmp_path))
    store.install('www', _set('www.example.test', 0x111))
    newer = _set('www.example.test', 0x222)
    real_read = bundle._read
    reads = []

    def read_then_switch(path):
        data = real_read(path)
        if not reads:  # a finalize installs the next generation right after the first file was read
            store.install('www', newer)
        reads.append(path)
        return data
    monkeypatch.setattr(bundle, '_read', read_then_switch)
    certificates, contents = read_bundles(str(tmp_path), ['www'], include=('privkey',))
    facts = certificates['www']
    assert facts['match'] is True and facts['error'] is None, facts
    assert facts['serial'] == '111'
    assert 'privkey' in contents['www']
    assert len(set(os.path.dirname(p) for p in reads)) == 1, reads


def test_a_revoked_certificate_is_never_handed_out(issued):
    """acme_revoke's record naming this serial: no contents, match false, when and why in the facts."""
    store, files, dummy = issued
    record = b'{"format": 1, "serial": "1234ABCD", "reason": "keyCompromise", "revoked_at": "2026-12-04T02:10:00Z"}'
    _write(store, 'www', {'revoked.json': record})
    certificates, bundle = read_bundles(str(store), ['www'], ['fullchain', 'privkey'])
    facts = certificates['www']
    assert bundle == {} and facts['match'] is False
    assert facts['revoked'] == {'revoked_at': '2026-12-04T02:10:00Z', 'reason': 'keyCompromise'}
    assert facts['error'].startswith('revoked on 2026-12-04T02:10:00Z (keyCompromise): not deployed')


def test_a_record_of_another_serial_is_an_older_certificate(issued):
    store, files, dummy = issued
    _write(store, 'www', {'revoked.json': b'{"format": 1, "serial": "99", "reason": "superseded"}'})
    certificates, bundle = read_bundles(str(store), ['www'], ['fullchain'])
    assert certificates['www']['match'] is True and certificates['www']['revoked'] is None and 'www' in bundle


@pytest.mark.parametrize('data, expect', [
    (b'{not json', 'is not valid JSON'),
    (b'["1234abcd"]', 'has no serial'),
    (b'{"serial": 1234}', 'has no serial'),
    (b'\xff\xfe', 'is not valid JSON'),
])
def test_an_unreadable_revocation_record_fails_closed(issued, data, expect):
    store, files, dummy = issued
    _write(store, 'www', {'revoked.json': data})
    certificates, bundle = read_bundles(str(store), ['www'], ['fullchain'])
    assert bundle == {} and certificates['www']['match'] is False
    assert expect in certificates['www']['error'] and 'counts as revoked' in certificates['www']['error']
