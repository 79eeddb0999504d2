# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Import certificates we did not issue into the store, so that everything downstream treats them alike.

For each certificate: gather its inputs (``material``), order the chain leaf first (``chain_builder``),
check key, names, validity and the chain as OpenSSL's verifier decides (``checks``, ``tls.verify``),
then write one new store generation (the same crash-safe switch ACME issuance uses) with an
``issuer.json`` that records the source. That record keeps renewal from ordering the certificate
from an ACME CA: whoever is named as its source renews it.

Idempotent by fingerprint: the same leaf, the same chain and the same key as the current
generation is ``unchanged``, and nothing is written. One bad certificate never stops the others.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509lib
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import iso_z, now as utc_now
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import IMPORT_KIND, CertStore, imported_source
from ansible_collections.certpilot.tls.plugins.module_utils.acme.validation import validate_name
from ansible_collections.certpilot.tls.plugins.module_utils.sources import chain_builder, checks, material
from ansible_collections.certpilot.tls.plugins.module_utils.tls.certinfo import CertCache
from ansible_collections.certpilot.tls.plugins.module_utils.tls.facts import load_roots
from ansible_collections.certpilot.tls.plugins.module_utils.tls.verify import ChainVerifier

try:
    from cryptography.hazmat.primitives import serialization
except ImportError:  # pragma: no cover - reported by the module through missing_required_lib
    serialization = None


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _summary(cert):
    return {'subject': cert.subject.rfc4514_string(), 'not_after': iso_z(x509lib.not_after(cert)),
            'fingerprint_sha256': x509lib.fingerprint_sha256(cert)}


class Importer:
    """``run(specs)`` -> (results by name, failed names). ``specs``: dicts as the module's ``certificates``."""

    def __init__(self, store, check_mode=False, ca_bundle=None, system_roots=True, validate_chain=True,
                 min_days_remaining=0, min_rsa_bits=checks.MIN_RSA_BITS, replace_acme=False, now=None):
        self.store = CertStore(store)
        self.check_mode = check_mode
        self.validate_chain = validate_chain
        self.min_days_remaining = min_days_remaining
        self.min_rsa_bits = min_rsa_bits
        self.replace_acme = replace_acme
        self.now = now or utc_now()
        self._verifier = None
        self._ca_bundle = ca_bundle
        self._system_roots = system_roots
        self._cache = CertCache()

    def verifier(self):
        if self._verifier is None:
            self._verifier = ChainVerifier(load_roots(self._cache, self._ca_bundle, self._system_roots), self.now)
        return self._verifier

    def run(self, specs):
        results, failed = {}, []
        for spec in specs:
            name = spec.get('name')
            try:
                validate_name(name)
                if name in results:
                    raise CertpilotError('the name %s is given twice' % name)
                results[name] = self.import_certificate(spec)
            except CertpilotError as exc:
                # 'error' and 'not_after' as the ACME results have them: a failed import of a certificate
                # already in the store still deploys that one (certpilot.tls.acme_deployable).
                results[str(name)] = {'name': name, 'action': 'failed', 'changed': False, 'msg': exc.msg,
                                      'error': exc.msg, 'not_after': self._current_not_after(name)}
                failed.append(str(name))
        return results, failed

    def _current_not_after(self, name):
        try:
            current = self._current(validate_name(name))
        except CertpilotError:
            return None
        if not current or current.get('cert') is None:
            return None
        return iso_z(x509lib.not_after(current['cert']))

    # -- one certificate ----------------------------------------------------------------
    def import_certificate(self, spec):
        name = spec['name']
        found = material.gather(spec)
        chain = chain_builder.order(found.certificates, found.key)
        leaf = chain.leaf
        problems = [p for p in (checks.key_problem(found.key, self.min_rsa_bits),
                                checks.name_problem(leaf, spec.get('domains')),
                                checks.validity_problem(leaf, self.now, self.min_days_remaining)) if p]
        warnings = ['%s is on no path from the leaf and is left out' % c.subject.rfc4514_string()
                    for c in chain.unused]
        if self.validate_chain:
            problem, chain_warnings = self._chain_problem(chain)
            warnings += chain_warnings
            if problem:
                problems.append(problem)
        if problems:
            raise CertpilotError('%s: %s' % (name, '; '.join(problems)))
        files = self._files(chain, found.key, spec)
        result = self._describe(name, chain, found.key, spec, warnings)
        current = self._current(name)
        if current is not None and self._same(current, chain, found.key, spec):
            result.update(action='unchanged', changed=False, generation=str(self.store.current_generation(name)))
            return result
        self._refuse_acme_replacement(name, current)
        result.update(action='imported', changed=True,
                      previous=_summary(current['cert']) if current and current.get('cert') is not None else None)
        if self.check_mode:
            result['generation'] = None
            return result
        previous = self.store.install(name, files)
        result.update(generation=str(self.store.current_generation(name)), previous_generation=previous)
        return result

    def _chain_problem(self, chain):
        """(problem or None, warnings): OpenSSL's verdict on the served chain with the trust anchors."""
        verifier = self.verifier()
        served = [self._cache.get(c.public_bytes(serialization.Encoding.DER)) for c in [chain.leaf] + chain.intermediates]
        valid, reason, warnings = verifier.verify_full(served)
        if valid:
            return None, list(warnings)
        return 'the chain does not verify: %s' % reason, list(warnings)

    def _files(self, chain, key, spec):
        leaf_pem = _pem(chain.leaf)
        chain_pem = b''.join(_pem(c) for c in chain.intermediates)
        issuer = {'kind': IMPORT_KIND, 'source': spec['source'], 'imported_at': iso_z(self.now),
                  'inputs': self._input_names(spec),
                  'fingerprint_sha256': x509lib.fingerprint_sha256(chain.leaf)}
        return {'privkey.pem': _key_pem(key), 'cert.pem': leaf_pem, 'chain.pem': chain_pem,
                'fullchain.pem': leaf_pem + chain_pem,
                'issuer.json': (json.dumps(issuer, indent=2, sort_keys=True) + '\n').encode('utf-8')}

    @staticmethod
    def _input_names(spec):
        names = list(spec.get('pem_paths') or [])
        names += ['pem_content #%d' % (i + 1) for i in range(len(spec.get('pem_content') or []))]
        names += [p for p in (spec.get('pkcs12_path'), spec.get('directory')) if p]
        return names

    def _describe(self, name, chain, key, spec, warnings):
        leaf = chain.leaf
        dns, ips = checks.names(leaf)
        end = x509lib.not_after(leaf)
        return {
            'name': name,
            'source': spec['source'],
            'subject': leaf.subject.rfc4514_string(),
            'issuer': leaf.issuer.rfc4514_string(),
            'domains': dns + ips,
            'key_type': checks.key_description(key),
            'not_before': iso_z(x509lib.not_before(leaf)),
            'not_after': iso_z(end),
            'days_remaining': round((end - self.now).total_seconds() / 86400.0, 2),
            'fingerprint_sha256': x509lib.fingerprint_sha256(leaf),
            'chain': [_summary(c) for c in chain.intermediates],
            'root_left_out': chain.root.subject.rfc4514_string() if chain.root is not None else None,
            'warnings': warnings,
        }

    def _current(self, name):
        """{'cert', 'chain' (fingerprints), 'key_pem', 'issuer'} of the current generation, or None."""
        if self.store.current_generation(name) is None:
            return None
        folder = self.store.current_dir(name)
        out = {'issuer': self.store.load_json(name, 'issuer.json') or {}}
        try:
            out['cert'] = x509lib.load_certificates(_read(folder, 'cert.pem'), '%s/cert.pem' % name)[0]
        except CertpilotError:
            out['cert'] = None
        chain_bytes = _read(folder, 'chain.pem')
        out['chain'] = ([x509lib.fingerprint_sha256(c) for c in x509lib.load_certificates(chain_bytes)]
                        if x509lib.pem_certificate_blocks(chain_bytes) else [])
        out['key_pem'] = _read(folder, 'privkey.pem')
        return out

    def _same(self, current, chain, key, spec):
        cert = current.get('cert')
        if cert is None:
            return False
        same_leaf = x509lib.fingerprint_sha256(cert) == x509lib.fingerprint_sha256(chain.leaf)
        same_chain = current['chain'] == [x509lib.fingerprint_sha256(c) for c in chain.intermediates]
        same_key = current['key_pem'] == _key_pem(key)
        return same_leaf and same_chain and same_key and imported_source(current['issuer']) == spec['source']

    def _refuse_acme_replacement(self, name, current):
        if current is None or self.replace_acme:
            return
        directory = current['issuer'].get('directory')
        if directory and imported_source(current['issuer']) is None:
            raise CertpilotError('%s holds a certificate issued by the ACME directory %s; set replace_acme=true '
                                 'to replace it with the imported one (and remove it from the ACME list)'
                                 % (name, directory))


def _read(folder, fname):
    try:
        return material.read_input(os.path.join(folder, fname))
    except CertpilotError:
        return b''
