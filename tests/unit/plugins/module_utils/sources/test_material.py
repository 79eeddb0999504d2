# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.sources import material
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.tls.tls_unit_helpers import issue


@pytest.fixture(scope='module')
def parts():
    root = issue('m root', ca=True)
    inter = issue('m inter', issuer=root, ca=True)
    leaf = issue('www.m.test', issuer=inter, dns=['www.m.test'])
    return root, inter, leaf


def test_one_combined_pem_in_any_order(parts):
    _root, inter, leaf = parts
    found = material.Material()
    material.add_pem(found, b'comment line\n' + inter.pem + leaf.key_pem + leaf.pem + inter.pem, 'bundle.pem')
    assert found.certificates == [inter.cert, leaf.cert]  # the duplicate intermediate counted once
    assert found.key.private_numbers() == leaf.key.private_numbers()
    assert found.inputs == ['bundle.pem']


def test_encrypted_key_needs_its_passphrase_and_a_bad_one_is_named_without_key_text(parts):
    _root, _inter, leaf = parts
    encrypted = leaf.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.BestAvailableEncryption(b's3cret'))
    with pytest.raises(CertpilotError, match='is encrypted: give its passphrase'):
        material.add_pem(material.Material(), encrypted, 'k.pem')
    with pytest.raises(CertpilotError) as info:
        material.add_pem(material.Material(), encrypted, 'k.pem', passphrase='wrong')
    assert 'does not parse (or the passphrase is wrong)' in info.value.msg
    assert 'BEGIN' not in info.value.msg
    found = material.Material()
    material.add_pem(found, encrypted, 'k.pem', passphrase='s3cret')
    assert found.key is not None


def test_two_different_keys_are_refused(parts):
    _root, inter, leaf = parts
    found = material.Material()
    material.add_pem(found, leaf.key_pem, 'a.key')
    with pytest.raises(CertpilotError, match=r'two different private keys in the inputs \(a.key and b.key\)'):
        material.add_pem(found, inter.key_pem, 'b.key')


def test_the_same_key_twice_is_one_key(parts):
    _root, _inter, leaf = parts
    found = material.Material()
    material.add_pem(found, leaf.key_pem, 'a.key')
    first = found.key
    material.add_pem(found, leaf.key_pem, 'b.key')
    assert found.key is first and found.key_from == 'a.key'


def test_pkcs12_with_passphrase(parts):
    root, inter, leaf = parts
    data = pkcs12.serialize_key_and_certificates(b'www', leaf.key, leaf.cert, [root.cert, inter.cert],
                                                 serialization.BestAvailableEncryption(b'p12pass'))
    found = material.Material()
    material.add_pkcs12(found, data, 'www.p12', 'p12pass')
    assert found.certificates == [leaf.cert, root.cert, inter.cert]
    with pytest.raises(CertpilotError, match='not a PKCS#12 archive this passphrase opens'):
        material.add_pkcs12(material.Material(), data, 'www.p12', 'nope')


def test_gather_from_a_directory_and_paths(tmp_path, parts):
    _root, inter, leaf = parts
    (tmp_path / 'www.crt').write_bytes(leaf.pem)
    (tmp_path / 'chain.pem').write_bytes(inter.pem)
    (tmp_path / 'www.key').write_bytes(leaf.key_pem)
    (tmp_path / 'README.txt').write_text('not read')
    found = material.gather({'directory': str(tmp_path)})
    assert sorted(os.path.basename(p) for p in found.inputs) == ['chain.pem', 'www.crt', 'www.key']
    assert set(found.certificates) == {leaf.cert, inter.cert}


def test_inputs_are_bounded_and_symlinks_refused(tmp_path, parts):
    _root, _inter, leaf = parts
    big = tmp_path / 'big.pem'
    big.write_bytes(b'x' * (material.MAX_INPUT_BYTES + 1))
    with pytest.raises(CertpilotError, match='more than the 1048576'):
        material.read_input(str(big))
    real = tmp_path / 'real.pem'
    real.write_bytes(leaf.pem)
    link = tmp_path / 'link.pem'
    link.symlink_to(real)
    with pytest.raises(CertpilotError, match='is a symlink'):
        material.read_input(str(link))
    with pytest.raises(CertpilotError, match='is not a regular file'):
        material.read_input(str(tmp_path))


def test_missing_parts_are_named(tmp_path, parts):
    _root, _inter, leaf = parts
    with pytest.raises(CertpilotError, match='no input'):
        material.gather({})
    with pytest.raises(CertpilotError, match='hold no private key'):
        material.gather({'pem_content': [leaf.pem.decode()]})
    with pytest.raises(CertpilotError, match='hold no certificate'):
        material.gather({'pem_content': [leaf.key_pem.decode()]})
    with pytest.raises(CertpilotError, match='holds no PEM certificate or private key'):
        material.gather({'pem_content': ['hello']})
