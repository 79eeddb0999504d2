# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: acme_order
short_description: Decide which certificates need renewal and create or resume their ACME orders
version_added: 0.1.0
description:
  - For every certificate of O(certificates), decides whether it must be (re)issued (missing, names or key type
    changed, remaining lifetime below O(renew_ratio) of its lifetime or below O(renew_days), the CA's renewal
    information (ARI, RFC 9773) says so, or O(force)).
  - Creates a new ACME order, or resumes a still-pending order kept in the O(store) for the same request,
    generates the private key (unless O(certificates[].reuse_key)) and the CSR, and returns the challenges
    to publish. Use M(certpilot.tls.acme_finalize) afterwards to validate, finalize and download.
  - All certificates are handled in one task, concurrently (O(concurrency)), over one keep-alive HTTP session.
  - The account must exist (see M(certpilot.tls.acme_account)).
  - One certificate failing does not stop the others. Every failure is returned by name in
    RV(failed_certificates), with the problem document of the CA when there is one; the task then fails after
    all the work is done, or only warns when O(fail_on_error=false).
  - A certificate the CA refuses with a rate limit (HTTP 429 or C(rateLimited)) whose C(Retry-After) is past the
    time left of O(timeout) is recorded in C(<store>/<name>/ratelimit.json). Later runs skip it, without asking
    the CA, until that time (C(action=skipped) in RV(certificates), reason V(rate-limited-until) in RV(failed_certificates)),
    then try it again. A shorter C(Retry-After) is waited for and retried within the run.
  - A certificate that M(certpilot.tls.cert_import) put in the store (bought, or from an internal CA) is never
    ordered, not even with O(force). It is reported with C(action=imported) and the source that renews it.
  - With ARI, the new order names the replaced certificate (C(replaces), RFC 9773) only when the two share at
    least one identifier. If the CA refuses the order because of it (C(alreadyReplaced), or C(malformed) /
    C(unauthorized) with a detail that mentions C(replaces), RFC 9773 section 5), it is ordered once more without
    C(replaces), with a warning. Any other refusal (a rate limit, a 5xx, a refused identifier) is reported as it is.
author:
  - certpilot maintainers (@certpilot)
extends_documentation_fragment:
  - certpilot.tls.acme
  - certpilot.tls.acme.store_lock
attributes:
  check_mode:
    support: full
    description: Reports what would be ordered without creating any order on the CA and without writing the store.
  diff_mode:
    support: none
    description: No diff is produced; see the returned RV(certificates).
options:
  store:
    description:
      - Directory on the host running the module that keeps one sub directory per certificate
        (key, CSR, certificate, chain, order state, archive). Created with mode 0700 when missing.
    type: path
    required: true
  certificates:
    description:
      - The certificates to manage.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Name of the certificate, used as directory name in O(store). Must match C(^[A-Za-z0-9][A-Za-z0-9._-]*$).
        type: str
        required: true
      domains:
        description:
          - DNS names and IP addresses (RFC 8738) of the certificate. The first DNS name becomes the subject CN.
          - Wildcards (C(*.example.com)) need O(certificates[].challenge=dns-01).
        type: list
        elements: str
        required: true
      key_type:
        description:
          - Type of the certificate private key.
        type: str
        choices: [ec256, ec384, rsa2048, rsa3072, rsa4096]
        default: ec256
      reuse_key:
        description:
          - Keep the current private key for the renewed certificate instead of generating a new one.
        type: bool
        default: false
      profile:
        description:
          - ACME certificate profile to request (for example C(shortlived) at Let's Encrypt).
          - Must be offered in the directory C(meta.profiles); the task fails clearly otherwise.
        type: str
      challenge:
        description:
          - Challenge type to answer.
        type: str
        choices: [http-01, dns-01]
        default: http-01
  renew_ratio:
    description:
      - Renew when the remaining lifetime is less than this fraction of the certificate lifetime.
      - Default is 1/3, or 1/2 for certificates living less than 10 days.
    type: float
  renew_days:
    description:
      - Also renew when fewer than this many days remain.
    type: float
  force:
    description:
      - Order new certificates regardless of the decision.
    type: bool
    default: false
  use_ari:
    description:
      - Use ACME Renewal Information (RFC 9773).
      - V(auto) uses it when the directory offers C(renewalInfo); V(always) fails when it does not; V(never) ignores it.
      - When used, the renewal window of the CA triggers renewal at a random time inside the window, the answer
        is cached in the store until its C(Retry-After), and the new order names the replaced certificate.
    type: str
    choices: [auto, always, never]
    default: auto
  concurrency:
    description:
      - Maximum number of HTTP requests in flight to the ACME server at the same time.
      - Up to four times as many certificates are worked on at once, because a certificate waiting for the
        server (a poll interval, a C(Retry-After)) holds no request slot.
    type: int
    default: 10
  fail_on_error:
    description:
      - When V(true), the task fails (after every certificate was handled) if any certificate failed, or is skipped
        because it is rate-limited, with one message naming each of them.
      - When V(false), the task does not fail for failed certificates; it returns them in RV(failed_certificates)
        with a warning, and the others in RV(due) can be finalized. Errors that concern every certificate
        (bad options, no account, store lock, the directory cannot be read) still fail the task.
    type: bool
    default: true
    version_added: 0.2.0
'''

EXAMPLES = r'''
- name: Order what needs ordering
  certpilot.tls.acme_order:
    acme_directory: https://acme-staging-v02.api.letsencrypt.org/directory
    account_key_src: /etc/certpilot/account.key
    store: /var/lib/certpilot
    certificates:
      - name: www
        domains: [www.example.com, example.com]
      - name: api
        domains: [api.example.com]
        key_type: rsa2048
  register: order

- name: Order, but let the good certificates go on when some fail
  certpilot.tls.acme_order:
    acme_directory: https://acme-staging-v02.api.letsencrypt.org/directory
    account_key_src: /etc/certpilot/account.key
    store: /var/lib/certpilot
    certificates:
      - name: www
        domains: [www.example.com]
    fail_on_error: false
  register: order

- name: Finalize only what was ordered or resumed
  certpilot.tls.acme_finalize:
    acme_directory: https://acme-staging-v02.api.letsencrypt.org/directory
    account_key_src: /etc/certpilot/account.key
    store: /var/lib/certpilot
    names: "{{ order.due }}"
  when: order.due | length > 0

- name: Publish the http-01 challenges
  ansible.builtin.copy:
    dest: "/var/www/acme/{{ item.path }}"
    content: "{{ item.key_authorization }}"
    mode: "0644"
  loop: "{{ order.challenges }}"
  loop_control:
    label: "{{ item.identifier }}"
  delegate_to: "{{ groups['web'] | first }}"
'''

RETURN = r'''
certificates:
  description: Per certificate name, what was decided.
  returned: always
  type: dict
  contains:
    action:
      description:
        - V(none) (nothing to do), V(order) (new order), V(resume) (stored pending order reused),
          V(skipped) (still rate-limited, see RV(failed_certificates)), V(imported) (the store holds a certificate
          that M(certpilot.tls.cert_import) wrote, which its source renews and which is never ordered here) or V(error).
      type: str
    reason:
      description: Why (for V(skipped), C(rate-limited until <UTC time>)).
      type: str
    error:
      description: Why this certificate failed or was skipped, null when it did not.
      type: str
    order_url:
      description: URL of the order, null when none.
      type: str
    status:
      description: Order status at the CA (V(would order) in check mode).
      type: str
    not_after:
      description: Expiry (UTC, ISO 8601) of the current certificate, null when there is none.
      type: str
    revoked:
      description:
        - True when the current certificate of the store is recorded as revoked (M(certpilot.tls.acme_revoke)); it
          is then replaced, never with its key. M(certpilot.tls.cert_bundle) never hands it out.
      type: bool
      version_added: 0.2.0
    identifiers:
      description: The identifiers requested.
      type: list
      elements: str
  sample: {"www": {"action": "order", "reason": "no certificate yet", "order_url": "https://ca/order/1",
           "status": "pending", "not_after": null, "identifiers": ["www.example.com"]}}
challenges:
  description: The challenges still to publish, one per pending authorization.
  returned: always
  type: list
  elements: dict
  contains:
    certificate:
      description: Certificate name.
      type: str
    identifier:
      description: Domain (or IP) being validated.
      type: str
    identifier_type:
      description: ACME identifier type of RV(challenges[].identifier), V(dns) or V(ip).
      type: str
      sample: dns
    type:
      description: Challenge type.
      type: str
    token:
      description: Challenge token (validated against C(^[A-Za-z0-9_-]+$)).
      type: str
    path:
      description: Path relative to the webroot, C(.well-known/acme-challenge/<token>).
      type: str
    key_authorization:
      description: Content to serve for http-01.
      type: str
    dns_record:
      description: TXT record name for dns-01, C(_acme-challenge.<domain>).
      type: str
    dns_value:
      description: TXT record value for dns-01.
      type: str
due:
  description:
    - Names of the certificates with an order to finalize (C(action) V(order) or V(resume) in RV(certificates)),
      sorted. Failed and skipped certificates are never in it. Pass it to the O(certpilot.tls.acme_finalize#module:names)
      of M(certpilot.tls.acme_finalize).
  returned: always
  version_added: 0.2.0
  type: list
  elements: str
  sample: [api, www]
failed_certificates:
  description:
    - Per certificate name, why it failed or was skipped; empty when none did.
    - Holds only our message and what the CA sent about the request, never a key or CSR.
  returned: always
  version_added: 0.2.0
  type: dict
  contains:
    msg:
      description: What went wrong, naming the identifier when the CA did.
      type: str
    reason:
      description:
        - V(rate-limited-until) (the CA rate-limited it; see C(retry_at)),
          V(ca-problem) (the CA refused it with a problem document) or V(error) (anything else).
      type: str
    stage:
      description: V(order) for this module.
      type: str
    retry_at:
      description: For V(rate-limited-until), the UTC time (ISO 8601) until which it is skipped; null otherwise.
      type: str
    problem:
      description: The RFC 7807 problem document of the CA (bounded), null when there is none.
      type: dict
      contains:
        type:
          description: Problem type, for example C(urn:ietf:params:acme:error:rejectedIdentifier).
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
  sample: {"api": {"msg": "creating an order for api.example.com failed: api.example.com: rejectedIdentifier: ...",
           "reason": "ca-problem", "stage": "order", "retry_at": null,
           "problem": {"type": "urn:ietf:params:acme:error:rejectedIdentifier", "detail": "...", "status": 400,
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
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import KEY_TYPES
from ansible_collections.certpilot.tls.plugins.module_utils.acme import failures as faillib
from ansible_collections.certpilot.tls.plugins.module_utils.acme import module_runtime
from ansible_collections.certpilot.tls.plugins.module_utils.acme.order_runner import OrderRunner, normalize_certificates


def main():
    options = module_runtime.store_argument_spec()
    options.update(
        certificates=dict(type='list', elements='dict', required=True, options=dict(
            name=dict(type='str', required=True),
            domains=dict(type='list', elements='str', required=True),
            key_type=dict(type='str', choices=list(KEY_TYPES), default='ec256'),
            reuse_key=dict(type='bool', default=False, no_log=False),
            profile=dict(type='str'),
            challenge=dict(type='str', choices=['http-01', 'dns-01'], default='http-01'),
        )),
        renew_ratio=dict(type='float'),
        renew_days=dict(type='float'),
        force=dict(type='bool', default=False),
        use_ari=dict(type='str', choices=['auto', 'always', 'never'], default='auto'),
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
        specs = normalize_certificates(params['certificates'])
        key = module_runtime.load_key(params, allow_missing=module.check_mode)
        client = module_runtime.make_client(params, pool_size=params['concurrency'])
        module_runtime.hold_store_lock(module, params['store'], params['lock_timeout'])
        runner = OrderRunner(client, key, params['store'], check_mode=module.check_mode, use_ari=params['use_ari'],
                             renew_ratio=params['renew_ratio'], renew_days=params['renew_days'], force=params['force'])
        results, challenges, _errors = runner.run(specs, params['concurrency'])
    except CertpilotError as exc:
        module.fail_json(msg=exc.msg, http_requests=client.request_count if client else 0, **exc.details)
    for warning in runner.warnings:
        module.warn(warning)
    timings = module_runtime.take_timings(results, started)
    due = sorted(name for name, r in results.items() if r['action'] in ('order', 'resume'))
    out = dict(changed=bool(due), certificates=results, challenges=challenges, due=due,
               failed_certificates=runner.failed, http_requests=client.request_count, timings=timings)
    if runner.failed:
        msg = faillib.summary(runner.failed, len(results))
        if params['fail_on_error']:
            module.fail_json(msg=msg, **out)
        module.warn(msg)
    module.exit_json(**out)


if __name__ == '__main__':
    main()
