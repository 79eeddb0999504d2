# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: acme_finalize
short_description: Validate, finalize and download the pending ACME orders of a certificate store
version_added: 0.1.0
description:
  - For each pending order kept in O(store) by M(certpilot.tls.acme_order), concurrently, answers the pending
    challenges, waits for the authorizations and the order (honouring C(Retry-After) within O(timeout)),
    finalizes with the stored CSR, downloads the chosen chain, checks that the certificate matches the key and
    the ordered identifiers, and installs C(cert.pem), C(chain.pem), C(fullchain.pem) and C(privkey.pem)
    atomically, archiving the previous version.
  - One certificate failing does not stop the others. Every failure is returned by name in
    RV(failed_certificates), with the problem document of the CA when there is one; the task then fails after
    all the work is done, listing every failure, or only warns when O(fail_on_error=false).
  - A certificate the CA rate-limits (HTTP 429 or C(rateLimited)) with a C(Retry-After) past the time left of
    O(timeout) is recorded in C(<store>/<name>/ratelimit.json) and its pending order is kept; until that time it is
    skipped (by this module and by M(certpilot.tls.acme_order)) and reported in RV(failed_certificates) with
    reason V(rate-limited-until).
  - Nothing pending means nothing to do (C(changed=false)) and no request to the CA.
author:
  - certpilot maintainers (@certpilot)
extends_documentation_fragment:
  - certpilot.tls.acme
  - certpilot.tls.acme.store_lock
attributes:
  check_mode:
    support: full
    description: Lists what would be finalized without contacting the CA and without writing the store.
  diff_mode:
    support: none
    description: No diff is produced; see the returned RV(certificates).
options:
  store:
    description:
      - The certificate store directory used with M(certpilot.tls.acme_order).
    type: path
    required: true
  names:
    description:
      - Certificates to finalize. Default is every certificate of the store with a pending order.
      - A named certificate without a pending order is reported unchanged.
    type: list
    elements: str
  preferred_chain:
    description:
      - Common name of the issuer of the top certificate of the wanted chain, or of a CA certificate in it.
      - Chosen among the default chain and the alternates the CA links (C(Link rel=alternate)); when none matches,
        the default chain is used with a warning.
    type: str
  concurrency:
    description:
      - Maximum number of HTTP requests in flight to the ACME server at the same time.
      - Up to four times as many certificates are worked on at once, because a certificate waiting for the
        server (a poll interval, a C(Retry-After)) holds no request slot.
    type: int
    default: 10
  archive_keep:
    description:
      - How many previous certificate generations (each a complete set with its private key) to keep
        per certificate beside the current one, for rollback; older ones are removed when a new
        certificate is installed. V(0) keeps only the current one.
      - See "Store layout" in C(docs/acme.md) for the layout and the migration of older stores.
    type: int
    default: 3
  deactivate_on_failure:
    description:
      - Deactivate the authorizations of an order that failed, so that it is not reused, and mark it failed in the store
        (the next M(certpilot.tls.acme_order) run creates a new order).
    type: bool
    default: true
  fail_on_error:
    description:
      - When V(true), the task fails (after every certificate was handled) if any certificate failed, or is skipped
        because it is rate-limited, with one message naming each of them.
      - When V(false), the task does not fail for failed certificates; it returns them in RV(failed_certificates)
        with a warning, and the certificates installed in RV(issued). Errors that concern every certificate
        (bad options, no account, store lock) still fail the task.
    type: bool
    default: true
    version_added: 0.2.0
'''

EXAMPLES = r'''
- name: Finalize everything that acme_order left pending
  certpilot.tls.acme_finalize:
    acme_directory: https://acme-v02.api.letsencrypt.org/directory
    account_key_src: /etc/certpilot/account.key
    store: /var/lib/certpilot
    preferred_chain: ISRG Root X1
  register: issued

- name: Finalize, report failures without failing the task
  certpilot.tls.acme_finalize:
    acme_directory: https://acme-v02.api.letsencrypt.org/directory
    account_key_src: /etc/certpilot/account.key
    store: /var/lib/certpilot
    fail_on_error: false
  register: finalized

- name: Fail at the end, naming every certificate that failed
  ansible.builtin.fail:
    msg: "{{ finalized.failed_certificates | dict2items | map(attribute='key') | join(', ') }} failed"
  when: finalized.failed_certificates | length > 0

- name: Show new certificates
  ansible.builtin.debug:
    msg: "{{ item.key }} until {{ item.value.not_after }}"
  loop: "{{ issued.certificates | dict2items | selectattr('value.changed') }}"
'''

RETURN = r'''
certificates:
  description: Per certificate name, the outcome.
  returned: always
  type: dict
  contains:
    changed:
      description: Whether a new certificate was installed.
      type: bool
    error:
      description: Why this certificate failed, null on success.
      type: str
    serial:
      description: Serial number (hex) of the current certificate.
      type: str
    not_after:
      description: Expiry (UTC, ISO 8601) of the current certificate.
      type: str
    fingerprint_sha256:
      description: SHA-256 fingerprint (hex) of the current certificate.
      type: str
    cert_path:
      description: Path of C(cert.pem).
      type: str
    chain_path:
      description: Path of C(chain.pem).
      type: str
    fullchain_path:
      description: Path of C(fullchain.pem).
      type: str
    key_path:
      description: Path of C(privkey.pem).
      type: str
  sample: {"www": {"changed": true, "error": null, "serial": "1f0a", "not_after": "2026-03-01T10:00:00Z",
           "fingerprint_sha256": "ab12...", "cert_path": "/var/lib/certpilot/www/cert.pem",
           "chain_path": "/var/lib/certpilot/www/chain.pem", "fullchain_path": "/var/lib/certpilot/www/fullchain.pem",
           "key_path": "/var/lib/certpilot/www/privkey.pem"}}
issued:
  description: Names of the certificates installed by this run (C(changed) in RV(certificates)), sorted.
  returned: always
  version_added: 0.2.0
  type: list
  elements: str
  sample: [www]
failed_certificates:
  description:
    - Per certificate name, why it failed or was skipped; empty when none did.
    - Holds only our message and what the CA sent about the request, never a key or CSR.
  returned: always
  version_added: 0.2.0
  type: dict
  contains:
    msg:
      description: What went wrong, naming the identifier when the CA did (for example the http-01 validation error).
      type: str
    reason:
      description:
        - V(rate-limited-until) (the CA rate-limited it; see C(retry_at)),
          V(ca-problem) (the CA refused it with a problem document) or V(error) (anything else).
      type: str
    stage:
      description: V(finalize) for this module.
      type: str
    retry_at:
      description: For V(rate-limited-until), the UTC time (ISO 8601) until which it is skipped; null otherwise.
      type: str
    problem:
      description: The RFC 7807 problem document of the CA (bounded), null when there is none.
      type: dict
      contains:
        type:
          description: Problem type, for example C(urn:ietf:params:acme:error:connection).
          type: str
        detail:
          description: The CA's explanation (at most 1000 characters).
          type: str
        status:
          description: HTTP status of the problem, when given.
          type: int
        subproblems:
          description: Per-identifier problems (RFC 8555 section 6.7.1), each with C(type), C(detail), C(status)
            and C(identifier) (C(type) and C(value)).
          type: list
          elements: dict
  sample: {"api": {"msg": "api.example.com: http-01 validation failed: api.example.com: connection: ...",
           "reason": "ca-problem", "stage": "finalize", "retry_at": null,
           "problem": {"type": "urn:ietf:params:acme:error:connection", "detail": "...", "status": 400,
                       "subproblems": []}}}
http_requests:
  description: Number of HTTP requests sent to the ACME server.
  returned: always
  type: int
timings:
  description: Seconds spent per certificate, and in total.
  returned: always
  type: dict
'''

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme import failures as faillib
from ansible_collections.certpilot.tls.plugins.module_utils.acme import module_runtime
from ansible_collections.certpilot.tls.plugins.module_utils.acme.finalizer import Finalizer
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import PENDING_STATES, CertStore
from ansible_collections.certpilot.tls.plugins.module_utils.acme.validation import validate_name


def main():
    options = module_runtime.store_argument_spec()
    options.update(
        names=dict(type='list', elements='str'),
        preferred_chain=dict(type='str'),
        deactivate_on_failure=dict(type='bool', default=True),
        archive_keep=dict(type='int', default=3),
    )
    module = AnsibleModule(**module_runtime.module_kwargs(options))
    for lib, err in module_runtime.missing_libs():
        module.fail_json(msg=missing_required_lib(lib), exception=str(err))
    params = module.params
    started = time.monotonic()
    client = None
    try:
        if params['concurrency'] < 1:
            raise CertpilotError('concurrency must be at least 1')
        store = CertStore(params['store'], archive_keep=params['archive_keep'])
        module_runtime.hold_store_lock(module, params['store'], params['lock_timeout'])
        names = [validate_name(n) for n in params['names']] if params['names'] is not None else store.pending_names()
        pending = [n for n in names if (store.load_order(n) or {}).get('status') in PENDING_STATES]
        key = module_runtime.load_key(params, allow_missing=module.check_mode)
        client = module_runtime.make_client(params, pool_size=params['concurrency'])
        finalizer = Finalizer(client, key, store, preferred_chain=params['preferred_chain'],
                              deactivate_on_failure=params['deactivate_on_failure'])
        if module.check_mode:
            results = {}
            for name in names:
                result = finalizer.certificate_result(name, name in pending)
                if name in pending:
                    result['would_finalize'] = True
                results[name] = result
            module.exit_json(changed=bool(pending), certificates=results, issued=[], failed_certificates={},
                             http_requests=0, timings={'total': round(time.monotonic() - started, 3)})
        results, _errors = finalizer.run(names, params['concurrency'])
    except CertpilotError as exc:
        module.fail_json(msg=exc.msg, http_requests=client.request_count if client else 0, **exc.details)
    for warning in finalizer.warnings:
        module.warn(warning)
    timings = module_runtime.take_timings(results, started)
    for r in results.values():
        r.pop('skipped', None)
    issued = sorted(name for name, r in results.items() if r.get('changed'))
    out = dict(changed=bool(issued), certificates=results, issued=issued, failed_certificates=finalizer.failed,
               http_requests=client.request_count, timings=timings)
    if finalizer.failed:
        msg = faillib.summary(finalizer.failed, len(results))
        if params['fail_on_error']:
            module.fail_json(msg=msg, **out)
        module.warn(msg)
    module.exit_json(**out)


if __name__ == '__main__':
    main()
