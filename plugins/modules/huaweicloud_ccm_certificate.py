#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: huaweicloud_ccm_certificate
short_description: List certificates in Huawei Cloud Certificate Manager (CCM) and import them into the store
version_added: 0.2.0
description:
  - Lists the certificates of a Huawei Cloud account in Cloud Certificate Manager (CCM, whose API is called SCM),
    filtered by name, domain and status (O(mode=list)).
  - "With O(mode=import) (the default), exports each certificate of O(certificates) with its private key and writes it
    into the store of M(certpilot.tls.acme_finalize) with all the checks of M(certpilot.tls.cert_import): the key
    matches, the chain verifies to a trust anchor, the names, the validity and the key strength. From the store the
    C(cert_push) role deploys it to ECS hosts (SFTP or the Ansible transport, host keys checked, C(nginx -t),
    reload, verify, rollback) like any certificate ACME issued."
  - The store generation's C(issuer.json) names the source C(Huawei Cloud CCM <certificate_id>), so that ACME
    renewal leaves it alone and the expiry report says who renews it. A certificate renewed in CCM gets a new id
    and is imported again; the same one is V(unchanged) (idempotent by fingerprint).
  - Requests are signed with Huawei's AK/SK scheme C(SDK-HMAC-SHA256) (requests and hashlib; no vendor SDK).
    Every call has a deadline; HTTP 429 and 5xx answers are retried a bounded number of times with backoff.
  - One certificate that cannot be found, is not issued yet or fails a check never stops the others; the task fails
    at the end naming each with Huawei's error code and request id. Refused credentials fail the task at once.
  - The exported private key is never returned, logged or shown in a diff.
author:
  - certpilot maintainers (@certpilot)
requirements:
  - requests >= 2.28
  - cryptography >= 41
extends_documentation_fragment:
  - certpilot.tls.store_import
attributes:
  check_mode:
    description: Lists and exports (reads only) and runs every check; writes nothing to the store.
    support: full
  diff_mode:
    description: The before and after leaf (subject, expiry, fingerprint) of each changed certificate.
    support: full
  action_group:
    description: Use C(group/certpilot.tls.huaweicloud) in C(module_defaults) to set the credentials once.
    support: full
    membership:
      - certpilot.tls.huaweicloud
options:
  ak:
    description:
      - Access key id (AK). Falls back to the environment variable E(HUAWEICLOUD_SDK_AK), as Huawei's SDKs do.
    type: str
    aliases: [access_key]
  sk:
    description:
      - Secret access key (SK). Falls back to E(HUAWEICLOUD_SDK_SK). Used only to sign; never in any output.
    type: str
    aliases: [secret_key]
  security_token:
    description:
      - Security token of temporary credentials, sent as C(X-Security-Token). Falls back to
        E(HUAWEICLOUD_SDK_SECURITY_TOKEN).
    type: str
  domain_id:
    description:
      - The account id, sent as C(X-Domain-Id) (CCM is a global service). Falls back to E(HUAWEICLOUD_SDK_DOMAIN_ID).
    type: str
  project_id:
    description:
      - A project id, sent as C(X-Project-Id) when given. Falls back to E(HUAWEICLOUD_SDK_PROJECT_ID).
    type: str
  region:
    description:
      - Region of the endpoint C(https://scm.<region>.myhuaweicloud.com), for example V(ap-southeast-1) or
        V(cn-north-4). Falls back to E(HUAWEICLOUD_SDK_REGION) (a name of this collection; the SDK takes the
        region in code).
      - The SDK's per-service variable E(HUAWEICLOUD_SDK_REGION_SCM_<REGION>) (for example
        E(HUAWEICLOUD_SDK_REGION_SCM_AP_SOUTHEAST_1)) overrides the endpoint of that region.
      - One of O(region) and O(endpoint) is required.
    type: str
  endpoint:
    description:
      - Base URL of the SCM API, instead of the one derived from O(region).
    type: str
  validate_certs:
    description:
      - Verify the API's TLS certificate.
    type: bool
    default: true
  ca_bundle:
    description:
      - PEM file of the CAs that sign the API's TLS certificate, instead of the system's.
    type: path
  api_timeout:
    description:
      - Seconds one HTTP request may take.
    type: float
    default: 30
  timeout:
    description:
      - Seconds all calls of the task may take together, retries included.
    type: int
    default: 300
  retries:
    description:
      - Attempts per call (the first included) on HTTP 429, 5xx and connection failures.
    type: int
    default: 4
  max_pages:
    description:
      - Pages of 50 certificates read at most per listing; more fails, asking for a narrower filter.
    type: int
    default: 20
  mode:
    description:
      - V(import) exports O(certificates) and imports them into O(store).
      - V(list) only lists. It returns RV(ccm_certificates) (filtered by O(list_filter)) and, for each entry of
        O(certificates), the certificate that would be imported. Nothing is exported.
    type: str
    choices: [import, list]
    default: import
  list_filter:
    description:
      - Which certificates O(mode=list) returns in RV(ccm_certificates).
    type: dict
    suboptions:
      name:
        description: The CCM certificate name, exactly.
        type: str
      domain:
        description: A domain the certificate is bound to (its domain or one of its additional domains), exactly.
        type: str
      status:
        description: CCM status, for example V(ISSUED) or V(UPLOAD) (an uploaded certificate); V(ALL) for any.
        type: str
        default: ALL
        choices: [ALL, PAID, ISSUED, CHECKING, CANCELCHECKING, UNPASSED, EXPIRED, REVOKING, REVOKED, UPLOAD,
                  CHECKING_ORG, ISSUING, SUPPLEMENTCHECKING]
  store:
    description:
      - The store directory on the host running the module, as given to M(certpilot.tls.acme_order).
      - Required with O(mode=import).
    type: path
  certificates:
    description:
      - The certificates to import. Give each one O(certificates[].certificate_id), or O(certificates[].certificate_name)
        and/or O(certificates[].domain) to select one by a search. Among several matches, the issued (or uploaded)
        one that expires last is taken (the renewed one).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - The store name (the name the C(cert_push) role and M(certpilot.tls.cert_bundle) use).
          - Must match C(^[A-Za-z0-9][A-Za-z0-9._-]*$).
        type: str
        required: true
      certificate_id:
        description:
          - The CCM certificate id (like C(scs1700000000001)).
        type: str
      certificate_name:
        description:
          - The CCM certificate name, exactly.
        type: str
      domain:
        description:
          - A domain the CCM certificate is bound to, exactly. The imported leaf must cover it too.
        type: str
      domains:
        description:
          - Names the leaf must cover (as O(certpilot.tls.cert_import#module:certificates[].domains)). Defaults to
            O(certificates[].domain) when that is given.
        type: list
        elements: str
        default: []
  chain_ca_bundle:
    description:
      - PEM file of extra trust anchors for the chain check of the imported certificates (a private CA's root).
    type: path
notes:
  - An SM2 (dual) certificate, or one whose CSR was made outside CCM (CCM has no key to export), fails by name.
seealso:
  - module: certpilot.tls.cert_import
  - module: certpilot.tls.cert_bundle
'''

EXAMPLES = r'''
- name: List the issued certificates of www.example.com in CCM
  certpilot.tls.huaweicloud_ccm_certificate:
    region: ap-southeast-1
    mode: list
    list_filter:
      domain: www.example.com
      status: ISSUED
  register: ccm

- name: Import the CCM certificates of www and shop into the store (credentials from HUAWEICLOUD_SDK_AK/SK)
  certpilot.tls.huaweicloud_ccm_certificate:
    region: ap-southeast-1
    domain_id: "{{ huaweicloud_account_id }}"
    store: /var/lib/certpilot/store
    certificates:
      - name: www
        domain: www.example.com
      - name: shop
        certificate_id: scs1700000000001
        domains: [shop.example.com]
  register: imported

- name: Same, with the credentials set once for the group
  module_defaults:
    group/certpilot.tls.huaweicloud:
      ak: "{{ vault_huaweicloud_ak }}"
      sk: "{{ vault_huaweicloud_sk }}"
      region: ap-southeast-1
  certpilot.tls.huaweicloud_ccm_certificate:
    store: /var/lib/certpilot/store
    certificates:
      - name: api
        certificate_name: api-example-com
'''

RETURN = r'''
certificates:
  description:
    - One entry per O(certificates) name. With O(mode=import) it has every key of
      RV(certpilot.tls.cert_import#module:certificates) (V(imported), V(unchanged) or V(failed)), plus RV(certificates.ccm).
  returned: always
  type: dict
  contains:
    name:
      description: The store name.
      type: str
      returned: always
    action:
      description: V(imported) (would be, in check mode), V(unchanged), V(failed), or V(found) with O(mode=list).
      type: str
      returned: always
    changed:
      description: Whether a new store generation was written (would be, in check mode).
      type: bool
      returned: always
    msg:
      description: What went wrong, with Huawei's error code and request id when the API refused.
      type: str
      returned: when failed
    error_code:
      description: Huawei's C(error_code), for example V(SCM.0020) for an unknown certificate id.
      type: str
      returned: when the API refused
    request_id:
      description: Huawei's request id of the refused call (C(X-Request-Id)).
      type: str
      returned: when the API refused
    ccm:
      description: The CCM certificate chosen (its metadata as listed; only C(id) when it was given by id and imported).
      type: dict
      returned: when the certificate was resolved
      contains:
        id:
          description: The CCM certificate id.
          type: str
        name:
          description: The CCM certificate name.
          type: str
        domain:
          description: The domain the certificate is bound to.
          type: str
        sans:
          description: Additional domains.
          type: str
        status:
          description: CCM status (V(ISSUED), V(UPLOAD), ...).
          type: str
        expire_time:
          description: Expiry as CCM reports it.
          type: str
    source:
      description: C(Huawei Cloud CCM <certificate_id>), as recorded in C(issuer.json).
      type: str
      returned: imported or unchanged
    subject:
      description: Subject of the leaf (RFC 4514).
      type: str
      returned: imported or unchanged
    issuer:
      description: Issuer of the leaf (RFC 4514).
      type: str
      returned: imported or unchanged
    domains:
      description: DNS names and IP addresses of the leaf's subjectAltName.
      type: list
      elements: str
      returned: imported or unchanged
    key_type:
      description: Type and size of the key, for example V(rsa2048) or V(ec-secp256r1).
      type: str
      returned: imported or unchanged
    not_before:
      description: Start of the leaf's validity (ISO 8601, UTC).
      type: str
      returned: imported or unchanged
    not_after:
      description: End of the leaf's validity (ISO 8601, UTC).
      type: str
      returned: imported or unchanged
    days_remaining:
      description: Days until RV(certificates.not_after).
      type: float
      returned: imported or unchanged
    fingerprint_sha256:
      description: SHA-256 of the leaf (DER), lowercase hex.
      type: str
      returned: imported or unchanged
    chain:
      description: The intermediates stored in C(chain.pem) (subject, not_after, fingerprint_sha256), leaf's issuer first.
      type: list
      elements: dict
      returned: imported or unchanged
    root_left_out:
      description: Subject of a self-signed root that was exported with the chain and is not stored, or null.
      type: str
      returned: imported or unchanged
    warnings:
      description: Findings that did not stop the import.
      type: list
      elements: str
      returned: imported or unchanged
    previous:
      description: The leaf that was current before (subject, not_after, fingerprint_sha256), or null.
      type: dict
      returned: when imported
    generation:
      description: The store generation now current (null in check mode).
      type: str
      returned: imported or unchanged
    previous_generation:
      description: The generation that was current before, or null for a first import.
      type: str
      returned: when imported, not in check mode
failed_certificates:
  description: Names of the certificates that failed, in input order.
  returned: always
  type: list
  elements: str
ccm_certificates:
  description: The certificates O(list_filter) selects (CCM metadata only, never a key or a certificate body).
  returned: with O(mode=list)
  type: list
  elements: dict
  contains:
    id:
      description: Certificate id.
      type: str
    name:
      description: Certificate name.
      type: str
    domain:
      description: Bound domain.
      type: str
    sans:
      description: Additional domains.
      type: str
    status:
      description: CCM status.
      type: str
    expire_time:
      description: Expiry as CCM reports it.
      type: str
    type:
      description: Certificate type, for example V(DV_SSL_CERT) or V(OV_SSL_CERT).
      type: str
    brand:
      description: CA brand, for example V(GLOBALSIGN).
      type: str
    signature_algorithm:
      description: Signature algorithm.
      type: str
    domain_type:
      description: V(SINGLE_DOMAIN), V(MULTI_DOMAIN) or V(WILDCARD).
      type: str
    validity_period:
      description: Validity in months.
      type: int
    domain_count:
      description: Number of domains.
      type: int
    wildcard_count:
      description: Number of wildcard domains.
      type: int
    deploy_support:
      description: Whether CCM can deploy it to other Huawei Cloud services.
      type: bool
    description:
      description: Description.
      type: str
    enterprise_project_id:
      description: Enterprise project.
      type: str
api_calls:
  description: Number of HTTP requests sent to the API (retries included).
  returned: always
  type: int
'''

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509util
from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import RetryPolicy
from ansible_collections.certpilot.tls.plugins.module_utils.acme import module_runtime
from ansible_collections.certpilot.tls.plugins.module_utils.huaweicloud import ccm
from ansible_collections.certpilot.tls.plugins.module_utils.huaweicloud.client import (
    HAS_REQUESTS, REQUESTS_IMPORT_ERROR, HuaweiClient)
from ansible_collections.certpilot.tls.plugins.module_utils.huaweicloud.credentials import (
    resolve_credentials, resolve_endpoint)
from ansible_collections.certpilot.tls.plugins.module_utils.sources.importer import Importer


def _diff(results):
    before, after = {}, {}
    for name, result in sorted(results.items()):
        if not result.get('changed'):
            continue
        before[name] = result.get('previous')
        after[name] = dict((k, result.get(k)) for k in ('subject', 'not_after', 'fingerprint_sha256', 'source'))
    return {'before': before, 'after': after}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            ak=dict(type='str', aliases=['access_key'], no_log=True, fallback=(env_fallback, ['HUAWEICLOUD_SDK_AK'])),
            sk=dict(type='str', aliases=['secret_key'], no_log=True, fallback=(env_fallback, ['HUAWEICLOUD_SDK_SK'])),
            security_token=dict(type='str', no_log=True, fallback=(env_fallback, ['HUAWEICLOUD_SDK_SECURITY_TOKEN'])),
            domain_id=dict(type='str', fallback=(env_fallback, ['HUAWEICLOUD_SDK_DOMAIN_ID'])),
            project_id=dict(type='str', fallback=(env_fallback, ['HUAWEICLOUD_SDK_PROJECT_ID'])),
            region=dict(type='str', fallback=(env_fallback, ['HUAWEICLOUD_SDK_REGION'])),
            endpoint=dict(type='str'),
            validate_certs=dict(type='bool', default=True),
            ca_bundle=dict(type='path'),
            api_timeout=dict(type='float', default=30),
            timeout=dict(type='int', default=300),
            retries=dict(type='int', default=4),
            max_pages=dict(type='int', default=20),
            mode=dict(type='str', choices=['import', 'list'], default='import'),
            list_filter=dict(type='dict', options=dict(
                name=dict(type='str'),
                domain=dict(type='str'),
                status=dict(type='str', default='ALL', choices=list(ccm.STATUSES)),
            )),
            store=dict(type='path'),
            certificates=dict(type='list', elements='dict', default=[], options=dict(
                name=dict(type='str', required=True),
                certificate_id=dict(type='str'),
                certificate_name=dict(type='str'),
                domain=dict(type='str'),
                domains=dict(type='list', elements='str', default=[]),
            ), mutually_exclusive=[('certificate_id', 'certificate_name'), ('certificate_id', 'domain')],
                required_one_of=[('certificate_id', 'certificate_name', 'domain')]),
            chain_ca_bundle=dict(type='path'),
            system_roots=dict(type='bool', default=True),
            validate_chain=dict(type='bool', default=True),
            min_days_remaining=dict(type='float', default=0),
            replace_acme=dict(type='bool', default=False),
            lock_timeout=dict(type='int', default=300),
        ),
        required_if=[('mode', 'import', ('store',))],
        supports_check_mode=True,
    )
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
    if not x509util.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=x509util.CRYPTOGRAPHY_IMPORT_ERROR)
    params = module.params
    list_only = params['mode'] == 'list'
    client = None
    out = dict(changed=False, certificates={}, failed_certificates=[], api_calls=0)
    try:
        deadline = Deadline(params['timeout'])
        client = HuaweiClient(resolve_credentials(params), resolve_endpoint(params), timeout=params['api_timeout'],
                              deadline=deadline, policy=RetryPolicy(attempts=max(1, params['retries']), base=0.5, cap=10.0),
                              validate_certs=params['validate_certs'], ca_bundle=params['ca_bundle'], log=module.log)
        api = ccm.CcmApi(client, max_pages=params['max_pages'])
        importer = None
        if list_only:
            wanted = params['list_filter'] or {}
            found = api.find(name=wanted.get('name'), domain=wanted.get('domain'), status=wanted.get('status'))
            out['ccm_certificates'] = [ccm.detail(c) for c in found]
        else:
            module_runtime.hold_store_lock(module, params['store'], params['lock_timeout'])
            importer = Importer(params['store'], check_mode=module.check_mode, ca_bundle=params['chain_ca_bundle'],
                                system_roots=params['system_roots'], validate_chain=params['validate_chain'],
                                min_days_remaining=params['min_days_remaining'], replace_acme=params['replace_acme'])
        results, failed, secrets = ccm.import_all(api, importer, params['certificates'], list_only=list_only,
                                                  log=module.log)
        for secret in secrets:
            module.no_log_values.add(secret)
    except CertpilotError as exc:
        out['api_calls'] = client.calls if client else 0
        module.fail_json(msg=exc.msg, **dict(out, **exc.details))
    out.update(changed=any(r.get('changed') for r in results.values()), certificates=results,
               failed_certificates=failed, api_calls=client.calls)
    if module._diff and not list_only:
        out['diff'] = _diff(results)
    if failed:
        module.fail_json(msg='%d of %d certificate(s) not %s: %s' % (
            len(failed), len(results), 'found' if list_only else 'imported',
            '; '.join('%s: %s' % (n, results[n]['msg']) for n in failed)), **out)
    module.exit_json(**out)


if __name__ == '__main__':
    main()
