#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: cert_bundle
short_description: Check and read the certificates, chains and keys a host needs from the store, in one call
version_added: 0.2.0
description:
  - Runs where the store of M(certpilot.tls.acme_finalize) is (the ACME host, usually with C(delegate_to)) and,
    for every certificate of O(names), checks that C(privkey.pem) belongs to the first certificate of
    C(fullchain.pem), and returns the facts of each certificate and the contents of the files of O(include).
  - One task reads everything a web host needs, however many certificates it serves, so a dedicated ACME
    host costs one round trip per web host instead of one C(slurp) per file.
  - Contents are returned only for certificates that passed the check, so a key that does not match its
    certificate is never handed on. A certificate that is not in the store is reported with RV(certificates.missing),
    not as a module failure, so the caller decides (the C(cert_push) role accepts it only in check mode).
  - With V(privkey) in O(include) the result holds private keys, so the task B(must) set C(no_log) (true);
    the module refuses to run otherwise, before reading anything. The facts (RV(certificates)) never hold key
    material. Ansible's C(no_target_syslog) setting also sets the flag the module checks, so with it the module
    cannot tell whether the task has C(no_log).
  - Reads only; never writes to the store.
author:
  - certpilot maintainers (@certpilot)
requirements:
  - cryptography >= 3.4
attributes:
  check_mode:
    description: Reads only, so it runs and returns the same result in check mode.
    support: full
  diff_mode:
    description: Nothing is changed, so there is no diff.
    support: none
options:
  store:
    description:
      - The store directory on the host running the module, as given to M(certpilot.tls.acme_finalize).
      - Each certificate is read from C(<store>/<name>/).
    type: path
    required: true
  names:
    description:
      - Names of the certificates (store directory names). Duplicates are read once.
      - Each must match C(^[A-Za-z0-9][A-Za-z0-9._-]*$), so that it cannot leave the store.
    type: list
    elements: str
    required: true
  include:
    description:
      - The files whose contents are returned in RV(bundle) for every certificate that passed the check,
        V(fullchain) (C(fullchain.pem)), V(chain) (C(chain.pem)), V(cert) (C(cert.pem)) and V(privkey) (C(privkey.pem)).
      - V(privkey) requires C(no_log) on the task.
      - An empty list only checks the certificates (for a caller that reads the files itself,
        such as M(certpilot.tls.sftp_push)).
    type: list
    elements: str
    choices: [cert, chain, fullchain, privkey]
    default: []
notes:
  - C(fullchain.pem) and C(privkey.pem) are always read (for the check); C(chain.pem) and C(cert.pem) only when
    O(include) names them, and then they must exist and hold valid certificates (an empty C(chain.pem) is valid).
  - Files larger than 1 MiB, or that are not PEM text, are reported as errors of their certificate.
seealso:
  - module: certpilot.tls.acme_finalize
  - module: certpilot.tls.cert_files
  - module: certpilot.tls.sftp_push
'''

EXAMPLES = r'''
- name: Read what this web host serves from the ACME host (one round trip, keys hidden)
  certpilot.tls.cert_bundle:
    store: /var/lib/certpilot/store
    names: [www, api]
    include: [fullchain, chain, privkey]
  delegate_to: acme1.example.com
  register: bundle
  no_log: true

- name: Refuse a key that does not match its certificate
  ansible.builtin.assert:
    that: bundle.certificates | dict2items | rejectattr('value.match') | list | length == 0
    fail_msg: "{{ bundle.certificates | dict2items | rejectattr('value.match') | map(attribute='value.error') | join('; ') }}"

- name: Install them
  certpilot.tls.cert_files:
    files:
      - dest: /etc/ssl/certpilot/www/fullchain.pem
        content: "{{ bundle.bundle.www.fullchain }}"
      - dest: /etc/ssl/certpilot/www/privkey.pem
        secret_content: "{{ bundle.bundle.www.privkey }}"

- name: Only check the certificates (nothing secret in the result)
  certpilot.tls.cert_bundle:
    store: /var/lib/certpilot/store
    names: [www, api]
  register: store_check
'''

RETURN = r'''
certificates:
  description: The facts of every certificate of O(names), by name. Never holds key material.
  type: dict
  returned: always
  contains:
    match:
      description:
        - True when the private key belongs to the first certificate of C(fullchain.pem) and every file read is valid.
        - False when a file is missing or unreadable, or the key does not match; RV(certificates.error) says why.
      type: bool
      sample: true
    missing:
      description: True when C(fullchain.pem) or C(privkey.pem) does not exist (the certificate is not issued yet).
      type: bool
      sample: false
    fingerprint_sha256:
      description: SHA-256 of the DER leaf certificate, lowercase hex without separators. Null on an error before parsing.
      type: str
      sample: 3f0c4b9a0d6e2f8b1c7a5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09
    serial:
      description: Serial number of the leaf certificate, lowercase hex. Null on an error before parsing.
      type: str
      sample: 4a1b2c3d
    not_after:
      description: End of validity of the leaf certificate, ISO 8601 UTC. Null on an error before parsing.
      type: str
      sample: '2027-03-02T11:15:18Z'
    chain_sha256:
      description:
        - SHA-256 fingerprints (lowercase hex, no separators) of the certificates of C(fullchain.pem) after the leaf,
          in file order, which is the chain a web server configured with C(fullchain.pem) sends. Empty on an error.
      type: list
      elements: str
      sample: [9d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e]
    revoked:
      description:
        - Set when M(certpilot.tls.acme_revoke) recorded this very certificate (by serial) as revoked, in the
          C(revoked.json) of its generation; null otherwise. A revoked certificate has RV(certificates.match) false and
          no RV(bundle) entry, so it is never deployed; a C(revoked.json) that cannot be read counts as revoked too.
      type: dict
      version_added: 0.2.0
      contains:
        revoked_at:
          description: When it was revoked (ISO 8601 UTC), as recorded.
          type: str
        reason:
          description: The revocation reason name (for example C(keyCompromise)), as recorded.
          type: str
      sample: {"revoked_at": "2026-12-04T02:10:00Z", "reason": "keyCompromise"}
    error:
      description: Why the certificate cannot be used (names the file, never its content); null when RV(certificates.match) is true.
      type: str
      sample: 'the private key does not match the certificate'
  sample:
    www:
      match: true
      missing: false
      fingerprint_sha256: 3f0c4b9a0d6e2f8b1c7a5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09
      serial: 4a1b2c3d
      not_after: '2027-03-02T11:15:18Z'
      chain_sha256: [9d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e]
      error: null
bundle:
  description:
    - By name, for every certificate whose RV(certificates.match) is true, the content of every part of O(include)
      (V(cert), V(chain), V(fullchain), V(privkey)) as text.
    - Holds private keys when O(include) has V(privkey); the task has C(no_log) then, so it is never displayed.
  type: dict
  returned: always
  sample:
    www:
      fullchain: "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"
      chain: "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certpilot.tls.plugins.module_utils.acme import bundle as bundle_util
from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509util
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            store=dict(type='path', required=True),
            names=dict(type='list', elements='str', required=True),
            include=dict(type='list', elements='str', default=[], choices=sorted(bundle_util.PARTS)),
        ),
        supports_check_mode=True,
    )
    if not x509util.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=x509util.CRYPTOGRAPHY_IMPORT_ERROR)
    include = module.params['include']
    secret = [part for part in include if part in bundle_util.SECRET_PARTS]
    if secret and not module.no_log:
        module.fail_json(msg='include has %s: the result would hold private keys, so the task must set no_log: true '
                             '(or leave %s out of include)' % (', '.join(secret), ', '.join(secret)))
    try:
        certificates, bundle = bundle_util.read_bundles(module.params['store'], module.params['names'], include)
    except CertpilotError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(changed=False, certificates=certificates, bundle=bundle)


if __name__ == '__main__':
    main()
