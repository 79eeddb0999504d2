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
  - One certificate failing does not stop the others; the task fails at the end, listing every failure with the
    per-identifier problem reported by the CA.
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
      - Maximum number of certificates handled at the same time.
    type: int
    default: 10
  deactivate_on_failure:
    description:
      - Deactivate the authorizations of an order that failed, so that it is not reused, and mark it failed in the store
        (the next M(certpilot.tls.acme_order) run creates a new order).
    type: bool
    default: true
'''

EXAMPLES = r'''
- name: Finalize everything that acme_order left pending
  certpilot.tls.acme_finalize:
    acme_directory: https://acme-v02.api.letsencrypt.org/directory
    account_key_src: /etc/certpilot/account.key
    store: /var/lib/certpilot
    preferred_chain: ISRG Root X1
  register: issued

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
from ansible_collections.certpilot.tls.plugins.module_utils.acme import modsupport
from ansible_collections.certpilot.tls.plugins.module_utils.acme.engine import Finalizer
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import PENDING_STATES, CertStore
from ansible_collections.certpilot.tls.plugins.module_utils.acme.tokens import validate_name


def main():
    argument_spec = modsupport.common_argument_spec()
    argument_spec.update(
        store=dict(type='path', required=True),
        lock_timeout=dict(type='int', default=300),
        names=dict(type='list', elements='str'),
        preferred_chain=dict(type='str'),
        concurrency=dict(type='int', default=10),
        deactivate_on_failure=dict(type='bool', default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[('account_key_src', 'account_key_content')],
                           required_one_of=[('account_key_src', 'account_key_content')])
    for lib, err in modsupport.missing_libs():
        module.fail_json(msg=missing_required_lib(lib), exception=str(err))
    params = module.params
    started = time.monotonic()
    client = None
    try:
        if params['concurrency'] < 1:
            raise CertpilotError('concurrency must be at least 1')
        store = CertStore(params['store'])
        modsupport.hold_store_lock(module, params['store'], params['lock_timeout'])
        names = [validate_name(n) for n in params['names']] if params['names'] is not None else store.pending_names()
        pending = [n for n in names if (store.load_order(n) or {}).get('status') in PENDING_STATES]
        key = modsupport.load_key(params, allow_missing=module.check_mode)
        client = modsupport.make_client(params, pool_size=params['concurrency'])
        finalizer = Finalizer(client, key, store, preferred_chain=params['preferred_chain'],
                              deactivate_on_failure=params['deactivate_on_failure'])
        if module.check_mode:
            results = {}
            for name in names:
                result = finalizer.facts(name, name in pending)
                if name in pending:
                    result['would_finalize'] = True
                results[name] = result
            module.exit_json(changed=bool(pending), certificates=results, http_requests=0,
                             timings={'total': round(time.monotonic() - started, 3)})
        results, errors = finalizer.run(names, params['concurrency'])
    except CertpilotError as exc:
        module.fail_json(msg=exc.msg, http_requests=client.request_count if client else 0, **exc.details)
    for warning in finalizer.warnings:
        module.warn(warning)
    timings = modsupport.take_timings(results, started)
    for r in results.values():
        r.pop('skipped', None)
    changed = any(r.get('changed') for r in results.values())
    out = dict(changed=changed, certificates=results, http_requests=client.request_count, timings=timings)
    if errors:
        module.fail_json(msg='%d of %d certificates failed: %s' % (len(errors), len(results), '; '.join(errors)), **out)
    module.exit_json(**out)


if __name__ == '__main__':
    main()
