# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: acme_revoke
short_description: Revoke ACME certificates of the store, or one given certificate, with a reason
version_added: 0.2.0
description:
  - Revokes certificates at the ACME CA that issued them (RFC 8555 section 7.6), signed by the ACME account key
    (O(revoke_with=account_key)) or by the certificate's own private key (O(revoke_with=certificate_key)), with an
    RFC 5280 reason code (O(reason)).
  - Revokes the current certificate of every name of O(names) from O(store), concurrently, in one task; or one
    certificate given as O(certificate_path) or O(certificate_content).
  - One certificate failing (not in the store, refused by the CA) does not stop the others. Every failure is
    returned by name in RV(failed_certificates); the task then fails after all the work is done, naming each of
    them, or only warns when O(fail_on_error=false).
  - A certificate of the store that is revoked is recorded in C(revoked.json) of its generation in the store, so
    that running the task again changes nothing and sends no request to the CA, and so that
    M(certpilot.tls.acme_order) renews it with a new key (never reusing the revoked certificate's key).
  - A certificate the CA reports as already revoked (C(urn:ietf:params:acme:error:alreadyRevoked)) is not a
    failure; it is reported with RV(certificates.action=already revoked) and C(changed=false).
  - To replace compromised certificates (revoke, issue with new keys, deploy, verify), use the playbook
    C(certpilot.tls.revoke_and_replace); see C(docs/revocation.md).
author:
  - certpilot maintainers (@certpilot)
extends_documentation_fragment:
  - certpilot.tls.acme
  - certpilot.tls.acme.store_lock
attributes:
  check_mode:
    support: full
    description: Reports what would be revoked without sending any request to the CA and without writing the store.
  diff_mode:
    support: none
    description: No diff is produced; see the returned RV(certificates).
options:
  store:
    description:
      - The certificate store directory used with M(certpilot.tls.acme_order) and M(certpilot.tls.acme_finalize).
      - Required with O(names).
    type: path
  names:
    description:
      - Names of the certificates of O(store) whose current certificate is revoked.
      - Mutually exclusive with O(certificate_path) and O(certificate_content).
    type: list
    elements: str
  certificate_path:
    description:
      - Path of a PEM certificate to revoke (the first certificate of the file is the one revoked), on the host
        running the module.
      - Nothing is recorded for it; a second run gets C(alreadyRevoked) from the CA and reports C(changed=false).
    type: path
  certificate_content:
    description:
      - A PEM certificate to revoke, as a string. Like O(certificate_path).
    type: str
  private_key_path:
    description:
      - Private key of O(certificate_path) or O(certificate_content), for O(revoke_with=certificate_key).
      - For O(names) the key is read from the store.
    type: path
  private_key_content:
    description:
      - Like O(private_key_path), the key as a PEM string.
    type: str
  private_key_passphrase:
    description:
      - Passphrase of an encrypted O(private_key_path) or O(private_key_content).
    type: str
  revoke_with:
    description:
      - V(account_key) signs the request with the ACME account key (the account that ordered the certificate).
      - V(certificate_key) signs it with the certificate's own private key (from the store for O(names), else
        O(private_key_path) or O(private_key_content)); no account key is needed. A key that does not belong
        to the certificate is refused before anything is sent.
    type: str
    choices: [account_key, certificate_key]
    default: account_key
  reason:
    description:
      - RFC 5280 CRLReason, as a code or a name. ACME CAs accept only V(0) (unspecified), V(1) (keyCompromise),
        V(3) (affiliationChanged), V(4) (superseded), V(5) (cessationOfOperation) and V(9) (privilegeWithdrawn);
        any other code (V(2) cACompromise, V(6) certificateHold, V(8) removeFromCRL, V(10) aACompromise) is refused
        before anything is sent.
      - Unset leaves the reason out of the request; the CA then records V(0) (unspecified).
      - Some CAs (Let's Encrypt) accept V(1) (keyCompromise) only with O(revoke_with=certificate_key).
    type: raw
  concurrency:
    description:
      - Maximum number of certificates revoked at the same time (and of HTTP requests in flight to the CA).
    type: int
    default: 10
  fail_on_error:
    description:
      - When V(true), the task fails (after every certificate was handled) if any certificate failed, with one
        message naming each of them.
      - When V(false), it only warns and returns them in RV(failed_certificates). Errors that concern every
        certificate (bad options, no account, store lock) still fail the task.
    type: bool
    default: true
notes:
  - Revocation cannot be undone.
  - The key options are never logged, and no key material is returned.
seealso:
  - module: certpilot.tls.acme_order
  - module: certpilot.tls.acme_finalize
'''

EXAMPLES = r'''
- name: Revoke two certificates of the store, the key of www was compromised
  certpilot.tls.acme_revoke:
    acme_directory: https://acme-v02.api.letsencrypt.org/directory
    store: /var/lib/certpilot
    names: [www, api]
    revoke_with: certificate_key
    reason: keyCompromise
  register: revoked

- name: Revoke a certificate that is no longer needed, signed by the account key
  certpilot.tls.acme_revoke:
    acme_directory: https://acme-v02.api.letsencrypt.org/directory
    account_key_src: /etc/certpilot/account.key
    store: /var/lib/certpilot
    names: [old-intranet]
    reason: cessationOfOperation

- name: Revoke a certificate file from elsewhere with its own key
  certpilot.tls.acme_revoke:
    acme_directory: https://acme-v02.api.letsencrypt.org/directory
    certificate_path: /etc/ssl/legacy/cert.pem
    private_key_path: /etc/ssl/legacy/privkey.pem
    revoke_with: certificate_key
    reason: 4

- name: Show what was revoked
  ansible.builtin.debug:
    msg: "{{ item.key }}: serial {{ item.value.serial }} {{ item.value.action }}"
  loop: "{{ revoked.certificates | dict2items }}"
'''

RETURN = r'''
certificates:
  description:
    - Per certificate (its name in the store, or the value of O(certificate_path), or C(certificate_content)),
      the outcome.
  returned: always
  type: dict
  contains:
    changed:
      description: Whether this run revoked it (or would, in check mode).
      type: bool
    action:
      description:
        - V(revoked) (revoked by this run), V(already revoked) (the CA said so), V(none) (the store records it as
          revoked already; nothing was sent), V(would revoke) (check mode) or V(error).
      type: str
    revoked:
      description: Whether the certificate is revoked now, as far as this run knows.
      type: bool
    error:
      description: Why it failed, null on success.
      type: str
    serial:
      description: Serial number (hex) of the certificate, null when it could not be read.
      type: str
    fingerprint_sha256:
      description: SHA-256 fingerprint (hex) of the certificate.
      type: str
    public_key_sha256:
      description:
        - SHA-256 (hex) of the certificate's public key (SubjectPublicKeyInfo, DER); two certificates with the same
          value share their private key.
      type: str
    not_after:
      description: Expiry (UTC, ISO 8601) of the certificate.
      type: str
    reason:
      description: The reason name (for example V(keyCompromise)); for V(none), the one recorded.
      type: str
    reason_code:
      description: The RFC 5280 reason code.
      type: int
    revoked_with:
      description: V(account_key) or V(certificate_key).
      type: str
    revoked_at:
      description: When it was revoked (or found already revoked) by this collection (UTC, ISO 8601); null when not.
      type: str
  sample: {"www": {"changed": true, "action": "revoked", "revoked": true, "error": null, "serial": "3fa2c1",
           "fingerprint_sha256": "ab12...", "public_key_sha256": "9c1e...", "not_after": "2026-03-01T10:00:00Z", "reason": "keyCompromise",
           "reason_code": 1, "revoked_with": "certificate_key", "revoked_at": "2026-01-02T03:04:05Z"}}
revoked:
  description: Names revoked by this run (C(changed) in RV(certificates)), sorted; in check mode, the ones that would be.
  returned: always
  type: list
  elements: str
  sample: [www]
already_revoked:
  description: Names that were revoked before this run (recorded in the store, or C(alreadyRevoked) from the CA), sorted.
  returned: always
  type: list
  elements: str
  sample: [api]
failed_certificates:
  description:
    - Per certificate name, why it failed; empty when none did.
  returned: always
  type: dict
  contains:
    msg:
      description: What went wrong.
      type: str
    reason:
      description: V(ca-problem) (the CA refused it with a problem document) or V(error) (anything else).
      type: str
    stage:
      description: V(revoke) for this module.
      type: str
    retry_at:
      description: Always null for this module.
      type: str
    problem:
      description: The RFC 7807 problem document of the CA (bounded), null when there is none.
      type: dict
      contains:
        type:
          description: Problem type, for example C(urn:ietf:params:acme:error:unauthorized).
          type: str
        detail:
          description: The CA's explanation (at most 1000 characters).
          type: str
        status:
          description: HTTP status of the problem, when given.
          type: int
        subproblems:
          description: Per-identifier problems, each with C(type), C(detail), C(status) and C(identifier).
          type: list
          elements: dict
  sample: {"gone": {"msg": "gone: no such certificate in the store /var/lib/certpilot", "reason": "error",
           "stage": "revoke", "retry_at": null, "problem": null}}
http_requests:
  description: Number of HTTP requests sent to the ACME server (V(0) in check mode and when everything was recorded).
  returned: always
  type: int
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme import failures as faillib
from ansible_collections.certpilot.tls.plugins.module_utils.acme import module_runtime
from ansible_collections.certpilot.tls.plugins.module_utils.acme.revocation import Revoker, REVOKE_WITH
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import CertStore


def _read(path, what):
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        raise CertpilotError('cannot read %s %s: %s' % (what, path, exc.strerror or exc))


def _given(module, revoker):
    """(label, result) of the one certificate given as a path or content."""
    params = module.params
    if params['certificate_path']:
        label, cert_pem = params['certificate_path'], _read(params['certificate_path'], 'the certificate')
    else:
        label, cert_pem = 'certificate_content', params['certificate_content']
    key_pem = None
    if params['revoke_with'] == 'certificate_key':
        if params['private_key_content']:
            key_pem = params['private_key_content']
        elif params['private_key_path']:
            key_pem = _read(params['private_key_path'], 'the private key')
        else:
            raise CertpilotError('revoke_with=certificate_key needs private_key_path or private_key_content for a '
                                 'certificate given as certificate_path or certificate_content')
    return label, revoker.given(label, cert_pem, key_pem, params['private_key_passphrase'])


def main():
    options = module_runtime.store_argument_spec(store_required=False)
    options.update(
        names=dict(type='list', elements='str'),
        certificate_path=dict(type='path'),
        certificate_content=dict(type='str'),
        private_key_path=dict(type='path', no_log=False),
        private_key_content=dict(type='str', no_log=True),
        private_key_passphrase=dict(type='str', no_log=True),
        revoke_with=dict(type='str', choices=list(REVOKE_WITH), default='account_key'),
        reason=dict(type='raw'),
    )
    module = AnsibleModule(**module_runtime.module_kwargs(
        options, account_key_required=False,
        mutually_exclusive=[('names', 'certificate_path', 'certificate_content'),
                            ('private_key_path', 'private_key_content')],
        required_one_of=[('names', 'certificate_path', 'certificate_content')],
        required_by={'names': 'store'},
        required_if=[('revoke_with', 'account_key', module_runtime.ACCOUNT_KEY_OPTIONS, True)]))
    for lib, err in module_runtime.missing_libs():
        module.fail_json(msg=missing_required_lib(lib), exception=str(err))
    params = module.params
    client = None
    try:
        if params['concurrency'] < 1:
            raise CertpilotError('concurrency must be at least 1')
        key = None
        if params['revoke_with'] == 'account_key':
            key = module_runtime.load_key(params, allow_missing=module.check_mode)
        client = module_runtime.make_client(params, pool_size=params['concurrency'])
        store = None
        if params['names'] is not None:
            store = CertStore(params['store'])
            module_runtime.hold_store_lock(module, params['store'], params['lock_timeout'])
        revoker = Revoker(client, key, store, revoke_with=params['revoke_with'], reason=params['reason'],
                          check_mode=module.check_mode)
        if params['names'] is not None:
            results = revoker.run(params['names'], params['concurrency'])
        else:
            label, result = _given(module, revoker)
            results = {label: result}
    except CertpilotError as exc:
        module.fail_json(msg=exc.msg, http_requests=client.request_count if client else 0, **exc.details)
    revoked = sorted(name for name, r in results.items() if r['changed'])
    already = sorted(name for name, r in results.items() if r['action'] in ('none', 'already revoked'))
    out = dict(changed=bool(revoked), certificates=results, revoked=revoked, already_revoked=already,
               failed_certificates=revoker.failed, http_requests=client.request_count)
    if revoker.failed:
        msg = faillib.summary(revoker.failed, len(results))
        if params['fail_on_error']:
            module.fail_json(msg=msg, **out)
        module.warn(msg)
    module.exit_json(**out)


if __name__ == '__main__':
    main()
