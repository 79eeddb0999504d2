#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: cert_import
short_description: Import certificates we did not issue (bought OV/EV, an internal CA) into the store
version_added: 0.2.0
description:
  - Checks each certificate and writes it into the store of M(certpilot.tls.acme_finalize) as a new generation,
    so that everything downstream (the C(cert_push) role, M(certpilot.tls.cert_bundle), the C(slb_rotate) role,
    the expiry report) handles it like one that ACME issued.
  - "Inputs come in any order and form: PEM files holding the certificate, the chain and the key (separate or
    combined), PEM text, a PKCS#12 archive with a passphrase, or a directory whose C(.pem), C(.crt), C(.cer),
    C(.key), C(.p12) and C(.pfx) files are read (the drop folder a purchasing team or a CA's timer fills)."
  - "Before anything is written, each certificate must pass: the key belongs to a certificate given (that one is
    the leaf); the chain is built leaf first by issuer name and signature, and verifies to a trust anchor as
    OpenSSL's verifier decides (a missing intermediate is named); the leaf covers every name of
    O(certificates[].domains); it is valid now and for O(min_days_remaining) days; the key is RSA of
    O(min_rsa_bits) bits or more, or EC on P-256, P-384 or P-521."
  - The generation's C(issuer.json) records O(certificates[].source), so that M(certpilot.tls.acme_order) never
    orders an imported certificate from an ACME CA, and the expiry report can say who must renew it.
  - Idempotent by fingerprint, the same leaf, chain, key and source as the current generation is V(unchanged)
    and nothing is written. One certificate that fails its checks never stops the others; the task fails at the
    end naming them.
  - Takes the store lock of M(certpilot.tls.acme_order) for its run, so an import never races an ACME run.
author:
  - certpilot maintainers (@certpilot)
requirements:
  - cryptography >= 41
extends_documentation_fragment:
  - certpilot.tls.store_import
attributes:
  check_mode:
    description: Reads and checks every input and reports what would be imported; writes nothing.
    support: full
  diff_mode:
    description: The before and after leaf (subject, expiry, fingerprint) of each changed certificate.
    support: full
options:
  store:
    description:
      - The store directory on the host running the module (the ACME host), as given to M(certpilot.tls.acme_order).
    type: path
    required: true
  certificates:
    description:
      - The certificates to import. Give each one at least one of O(certificates[].pem_paths),
        O(certificates[].pem_content), O(certificates[].pkcs12_path) and O(certificates[].directory); all inputs
        given are read together.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The store name of the certificate (the name the C(cert_push) role and M(certpilot.tls.cert_bundle) use).
          - Must match C(^[A-Za-z0-9][A-Za-z0-9._-]*$).
        type: str
        required: true
      source:
        description:
          - Where the certificate comes from and who renews it, for example C(DigiCert OV, renewed by
            purchasing@example.com) or C(corp internal CA). Recorded in C(issuer.json) and shown by the expiry
            report.
        type: str
        required: true
      domains:
        description:
          - Names the certificate must cover (wildcards in the certificate match, as TLS clients match them).
          - Without it, the names are not checked, only reported in RV(certificates.domains).
        type: list
        elements: str
        default: []
      pem_paths:
        description:
          - PEM files on the host running the module, each holding certificates and/or the private key, in any order.
          - Symlinks are refused, files over 1 MiB too.
        type: list
        elements: path
        default: []
      pem_content:
        description:
          - PEM text (for example from a vault or an AWX credential), each item holding certificates and/or the key.
          - Never shown in output.
        type: list
        elements: str
        default: []
      pkcs12_path:
        description:
          - A PKCS#12 archive (C(.p12), C(.pfx)) holding the key and certificates.
        type: path
      directory:
        description:
          - A directory whose C(.pem), C(.crt), C(.cer), C(.key), C(.p12) and C(.pfx) files hold this certificate.
        type: path
      passphrase:
        description:
          - Passphrase of the PKCS#12 archive or of an encrypted PEM key. The key is stored unencrypted, mode 0600,
            like keys that ACME issuance writes.
        type: str
  ca_bundle:
    description:
      - PEM file of extra trust anchors for the chain check (the root of an internal CA).
    type: path
  min_rsa_bits:
    description:
      - Smallest RSA key accepted.
    type: int
    default: 2048
  fail_on_error:
    description:
      - Fail the task when a certificate failed. With V(false) the task only warns, and the caller names the
        failures later (the C(certpilot.tls.renew) playbook does, after deploying the others).
    type: bool
    default: true
notes:
  - A self-signed root given with the inputs is not served (clients have it) and is reported in
    RV(certificates.root_left_out); certificates on no path from the leaf are reported in RV(certificates.warnings).
seealso:
  - module: certpilot.tls.cert_bundle
  - module: certpilot.tls.acme_order
'''

EXAMPLES = r'''
- name: Import the bought certificate of www and the internal one of intranet
  certpilot.tls.cert_import:
    store: /var/lib/certpilot/store
    certificates:
      - name: www
        source: DigiCert OV, renewed by purchasing@example.com
        domains: [www.example.com, example.com]
        pem_paths: [/srv/incoming/www/www.crt, /srv/incoming/www/chain.pem, /srv/incoming/www/www.key]
      - name: intranet
        source: corp internal CA (pki-team@example.com)
        pkcs12_path: /srv/incoming/intranet.p12
        passphrase: "{{ vault_intranet_p12_passphrase }}"
    ca_bundle: /etc/pki/corp-root.pem
  delegate_to: acme1.example.com
  run_once: true

- name: Import whatever the CA's timer dropped into a folder per certificate
  certpilot.tls.cert_import:
    store: /var/lib/certpilot/store
    certificates:
      - name: shop
        source: Huawei Cloud CCM (timer function)
        directory: /srv/incoming/shop
    min_days_remaining: 14
'''

RETURN = r'''
certificates:
  description: One entry per certificate name.
  returned: always
  type: dict
  contains:
    name:
      description: The store name.
      type: str
      returned: always
    action:
      description: V(imported) (a new generation, or would be in check mode), V(unchanged) or V(failed).
      type: str
      returned: always
    changed:
      description: Whether a new generation was written (would be, in check mode).
      type: bool
      returned: always
    msg:
      description: Every problem found, when the certificate failed.
      type: str
      returned: when failed
    error:
      description: The same as RV(certificates.msg), under the name the ACME results use, so that
        C(certpilot.tls.acme_deployable) and C(certpilot.tls.acme_failures) read import results too.
      type: str
      returned: when failed
    source:
      description: O(certificates[].source).
      type: str
      returned: unless failed
    subject:
      description: Subject of the leaf (RFC 4514).
      type: str
      returned: unless failed
    issuer:
      description: Issuer of the leaf (RFC 4514).
      type: str
      returned: unless failed
    domains:
      description: DNS names and IP addresses of the leaf's subjectAltName.
      type: list
      elements: str
      returned: unless failed
    key_type:
      description: Type and size of the key, for example V(rsa2048) or V(ec-secp256r1).
      type: str
      returned: unless failed
    not_before:
      description: Start of the leaf's validity (ISO 8601, UTC).
      type: str
      returned: unless failed
    not_after:
      description: End of the leaf's validity (ISO 8601, UTC). For a failed certificate, that of the one
        still current in the store, or null when there is none.
      type: str
      returned: always
    days_remaining:
      description: Days until RV(certificates.not_after).
      type: float
      returned: unless failed
    fingerprint_sha256:
      description: SHA-256 of the leaf (DER), lowercase hex.
      type: str
      returned: unless failed
    chain:
      description: The intermediates stored in C(chain.pem), leaf's issuer first.
      type: list
      elements: dict
      returned: unless failed
      contains:
        subject:
          description: Subject (RFC 4514).
          type: str
        not_after:
          description: End of validity (ISO 8601, UTC).
          type: str
        fingerprint_sha256:
          description: SHA-256 of the certificate (DER), lowercase hex.
          type: str
    root_left_out:
      description: Subject of a self-signed root that was given and is not stored, or null.
      type: str
      returned: unless failed
    warnings:
      description: Findings that did not stop the import (unused certificates, stricter validators' findings).
      type: list
      elements: str
      returned: unless failed
    previous:
      description: The leaf that was current before (subject, not_after, fingerprint_sha256), or null.
      type: dict
      returned: when imported
    generation:
      description: The store generation now current (null in check mode).
      type: str
      returned: unless failed
    previous_generation:
      description: The generation that was current before, or null for a first import.
      type: str
      returned: when imported, not in check mode
failed_certificates:
  description: Names of the certificates that failed, in input order.
  returned: always
  type: list
  elements: str
failure_summary:
  description: One line naming every certificate that failed and why; empty when none did.
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509util
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme import module_runtime
from ansible_collections.certpilot.tls.plugins.module_utils.sources.importer import Importer


def _diff(results):
    before, after = {}, {}
    for name, result in sorted(results.items()):
        if not result.get('changed'):
            continue
        before[name] = result.get('previous')
        after[name] = {k: result[k] for k in ('subject', 'not_after', 'fingerprint_sha256')}
    return {'before': before, 'after': after}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            store=dict(type='path', required=True),
            certificates=dict(type='list', elements='dict', required=True, options=dict(
                name=dict(type='str', required=True),
                source=dict(type='str', required=True),
                domains=dict(type='list', elements='str', default=[]),
                pem_paths=dict(type='list', elements='path', default=[]),
                pem_content=dict(type='list', elements='str', default=[], no_log=True),
                pkcs12_path=dict(type='path'),
                directory=dict(type='path'),
                passphrase=dict(type='str', no_log=True),
            )),
            ca_bundle=dict(type='path'),
            system_roots=dict(type='bool', default=True),
            validate_chain=dict(type='bool', default=True),
            min_days_remaining=dict(type='float', default=0),
            min_rsa_bits=dict(type='int', default=2048),
            replace_acme=dict(type='bool', default=False),
            lock_timeout=dict(type='int', default=300),
            fail_on_error=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    if not x509util.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=x509util.CRYPTOGRAPHY_IMPORT_ERROR)
    params = module.params
    try:
        module_runtime.hold_store_lock(module, params['store'], params['lock_timeout'])
        importer = Importer(params['store'], check_mode=module.check_mode, ca_bundle=params['ca_bundle'],
                            system_roots=params['system_roots'], validate_chain=params['validate_chain'],
                            min_days_remaining=params['min_days_remaining'], min_rsa_bits=params['min_rsa_bits'],
                            replace_acme=params['replace_acme'])
        results, failed = importer.run(params['certificates'])
    except CertpilotError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    summary = ''
    if failed:
        summary = '%d of %d certificate(s) not imported: %s' % (
            len(failed), len(results), '; '.join(results[n]['msg'] for n in failed))
    out = dict(changed=any(r.get('changed') for r in results.values()), certificates=results,
               failed_certificates=failed, failure_summary=summary)
    if module._diff:
        out['diff'] = _diff(results)
    if failed:
        if params['fail_on_error']:
            module.fail_json(msg=summary, **out)
        module.warn(summary)
    module.exit_json(**out)


if __name__ == '__main__':
    main()
