# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificates and a private key gathered from the inputs of an import: PEM in any order, PKCS#12, a directory.

Every input is bounded before it is parsed (``MAX_INPUT_BYTES`` per file, ``MAX_CERTIFICATES`` per
certificate), and read without following a symlink we did not expect (``O_NOFOLLOW`` on the file,
a regular file only). Error messages name the input (a path, or "pem_content #n"), never its bytes.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import re
import stat

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12
except ImportError:  # pragma: no cover - reported by the module through missing_required_lib
    x509 = serialization = pkcs12 = None

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509lib

MAX_INPUT_BYTES = 1024 * 1024
MAX_CERTIFICATES = 20
# What a directory source reads: PEM files and PKCS#12 archives, by extension.
PEM_SUFFIXES = ('.pem', '.crt', '.cer', '.key')
PKCS12_SUFFIXES = ('.p12', '.pfx')
_KEY_BLOCK_RE = re.compile(br'-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----\s*.+?\s*-----END \1-----', re.S)


class Material:
    """What the inputs of one certificate hold: certificates (input order) and at most one private key."""

    def __init__(self):
        self.certificates = []
        self.key = None
        self.key_from = None
        self.inputs = []

    def add_certificate(self, cert):
        fingerprint = x509lib.fingerprint_sha256(cert)
        if any(x509lib.fingerprint_sha256(c) == fingerprint for c in self.certificates):
            return
        if len(self.certificates) >= MAX_CERTIFICATES:
            raise CertpilotError('more than %d certificates in the inputs' % MAX_CERTIFICATES)
        self.certificates.append(cert)

    def set_key(self, key, where):
        if self.key is not None:
            if x509lib.public_key_der(self.key.public_key()) == x509lib.public_key_der(key.public_key()):
                return
            raise CertpilotError('two different private keys in the inputs (%s and %s)' % (self.key_from, where))
        self.key = key
        self.key_from = where


def read_input(path):
    """The bytes of the regular file ``path``, at most MAX_INPUT_BYTES, never through a symlink."""
    flags = os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise CertpilotError('%s is a symlink; give the path of the file itself' % path)
        raise CertpilotError('cannot read %s: %s' % (path, exc.strerror or exc))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CertpilotError('%s is not a regular file' % path)
        if info.st_size > MAX_INPUT_BYTES:
            raise CertpilotError('%s is %d bytes, more than the %d a certificate input may be'
                                 % (path, info.st_size, MAX_INPUT_BYTES))
        with os.fdopen(fd, 'rb') as handle:
            fd = None
            data = handle.read(MAX_INPUT_BYTES + 1)
    finally:
        if fd is not None:
            os.close(fd)
    if len(data) > MAX_INPUT_BYTES:
        raise CertpilotError('%s grew beyond %d bytes while it was read' % (path, MAX_INPUT_BYTES))
    return data


def add_pem(material, data, where, passphrase=None):
    """Every certificate and private key block of the PEM ``data`` into ``material``.

    Anything else in the file (text before the blocks, parameters) is ignored; a block that
    does not parse is an error naming ``where`` and the block's position.
    """
    data = x509lib.to_bytes(data)
    if len(data) > MAX_INPUT_BYTES:
        raise CertpilotError('%s is more than %d bytes' % (where, MAX_INPUT_BYTES))
    found = False
    for index, block in enumerate(x509lib.pem_certificate_blocks(data)):
        try:
            material.add_certificate(x509.load_pem_x509_certificate(block))
        except ValueError as exc:
            raise CertpilotError('certificate #%d of %s does not parse: %s' % (index + 1, where, exc))
        found = True
    for match in _KEY_BLOCK_RE.finditer(data):
        label = match.group(1).decode('ascii')
        try:
            key = serialization.load_pem_private_key(match.group(0), _secret(passphrase))
        except TypeError:
            raise CertpilotError('the %s in %s is encrypted: give its passphrase' % (label, where))
        except ValueError:
            # The exception text can quote key material: never pass it on.
            raise CertpilotError('the %s in %s does not parse (or the passphrase is wrong)' % (label, where))
        material.set_key(key, where)
        found = True
    if not found:
        raise CertpilotError('%s holds no PEM certificate or private key' % where)
    material.inputs.append(where)


def add_pkcs12(material, data, where, passphrase=None):
    """The key and certificates of the PKCS#12 archive ``data`` into ``material``."""
    if len(data) > MAX_INPUT_BYTES:
        raise CertpilotError('%s is more than %d bytes' % (where, MAX_INPUT_BYTES))
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, _secret(passphrase))
    except ValueError:
        raise CertpilotError('%s is not a PKCS#12 archive this passphrase opens' % where)
    if cert is None and not extra:
        raise CertpilotError('%s holds no certificate' % where)
    for one in ([cert] if cert is not None else []) + list(extra or []):
        material.add_certificate(one)
    if key is not None:
        material.set_key(key, where)
    material.inputs.append(where)


def directory_files(directory):
    """The files a directory source imports: PEM and PKCS#12 files by extension, sorted by name."""
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise CertpilotError('cannot list the directory %s: %s' % (directory, exc.strerror or exc))
    pem, p12 = [], []
    for name in names:
        lower = name.lower()
        if lower.endswith(PEM_SUFFIXES):
            pem.append(os.path.join(directory, name))
        elif lower.endswith(PKCS12_SUFFIXES):
            p12.append(os.path.join(directory, name))
    if not pem and not p12:
        raise CertpilotError('the directory %s holds no %s file' % (directory, '/'.join(PEM_SUFFIXES + PKCS12_SUFFIXES)))
    return pem, p12


def gather(spec):
    """A ``Material`` from one certificate's inputs (``pem_paths``, ``pem_content``, ``pkcs12_path``, ``directory``)."""
    material = Material()
    passphrase = spec.get('passphrase')
    pem_paths = list(spec.get('pem_paths') or [])
    p12_paths = [spec['pkcs12_path']] if spec.get('pkcs12_path') else []
    if spec.get('directory'):
        more_pem, more_p12 = directory_files(spec['directory'])
        pem_paths += more_pem
        p12_paths += more_p12
    for path in pem_paths:
        add_pem(material, read_input(path), path, passphrase)
    for index, content in enumerate(spec.get('pem_content') or []):
        add_pem(material, content, 'pem_content #%d' % (index + 1), passphrase)
    for path in p12_paths:
        add_pkcs12(material, read_input(path), path, passphrase)
    if not material.inputs:
        raise CertpilotError('no input: give pem_paths, pem_content, pkcs12_path or directory')
    if not material.certificates:
        raise CertpilotError('the inputs (%s) hold no certificate' % ', '.join(material.inputs))
    if material.key is None:
        raise CertpilotError('the inputs (%s) hold no private key' % ', '.join(material.inputs))
    return material


def _secret(passphrase):
    if passphrase is None or passphrase == '':
        return None
    return passphrase.encode('utf-8') if isinstance(passphrase, str) else passphrase
