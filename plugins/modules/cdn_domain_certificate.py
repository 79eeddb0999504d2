#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: cdn_domain_certificate
short_description: Set the HTTPS certificate of Alibaba Cloud CDN domains
version_added: 0.2.0
description:
  - Sets the HTTPS certificate of one or many Alibaba Cloud CDN (API 2018-05-10) accelerated domains with
    C(SetCdnDomainSSLCertificate), either a Certificate Management Service (CAS) certificate by ID
    (O(certificate_id), as M(certpilot.tls.alicloud_cas_certificate) returns it) or by upload of a certificate
    and its private key (O(certificate)/O(certificate_src) and O(private_key)/O(private_key_src)).
  - Reads each domain's certificate first (C(DescribeDomainCertificateInfo)) and changes only the domains that do
    not serve the wanted certificate already; an upload is recognised by the SHA-256 fingerprint of the
    certificate the domain serves, a CAS certificate by its ID and region.
  - After a change the module reads the domain back, with backoff until O(wait_timeout), and fails that domain
    when it does not show the wanted certificate.
  - C(SetCdnDomainSSLCertificate) takes one domain per call; the domains of O(domains) are handled in parallel
    (O(concurrency)). The batch call C(BatchSetCdnDomainServerCertificate) is not used, it sets one certificate
    for up to ten domains and answers for the batch as a whole, so one bad domain would fail all of them and no
    per-domain error code would come back.
  - RSA and ECDSA (P-256, P-384) certificates are accepted, as by CAS; the chain is put leaf first and the key is
    sent unencrypted in the traditional PEM format. The private key is never returned or logged.
  - Several domains can be handled in one call with O(domains); a failing domain is named in RV(failed_items)
    and does not stop the others.
author:
  - certpilot maintainers (@certpilot)
extends_documentation_fragment:
  - certpilot.tls.alicloud
attributes:
  check_mode:
    support: full
    description: Reads the domains and reports what would change; CDN has no dry run, so nothing is sent.
  diff_mode:
    support: full
    description: Shows each domain's certificate before and after.
options:
  domain_name:
    description:
      - The accelerated domain. Mutually exclusive with O(domains).
    type: str
  certificate_id:
    description:
      - CAS certificate ID (C(12000001); the ALB form C(12000001-cn-hangzhou) is taken too).
    type: str
  certificate_region:
    description:
      - Region of the CAS certificate, V(cn-hangzhou) (China site) or V(ap-southeast-1) (international site).
    type: str
    default: cn-hangzhou
    choices: [cn-hangzhou, ap-southeast-1]
  certificate:
    description:
      - PEM certificate chain (leaf and intermediates) to upload. Mutually exclusive with O(certificate_src).
    type: str
  certificate_src:
    description:
      - Path of the PEM certificate chain to upload.
    type: path
  private_key:
    description:
      - PEM private key of O(certificate). Mutually exclusive with O(private_key_src).
    type: str
  private_key_src:
    description:
      - Path of the PEM private key.
    type: path
  certificate_name:
    description:
      - Name of an uploaded certificate. Default C(<common name>-<notAfter YYYYMMDD>-<first 8 hex of the SHA-256>).
    type: str
  ssl_protocol:
    description:
      - V(on) serves HTTPS with the given certificate; V(off) turns HTTPS off (then no certificate is given).
    type: str
    choices: ['on', 'off']
    default: 'on'
  domains:
    description:
      - Several domains at once, each with the keys of the single form.
    type: list
    elements: dict
    suboptions:
      domain_name:
        description: The accelerated domain.
        type: str
        required: true
      certificate_id:
        description: See O(certificate_id).
        type: str
      certificate_region:
        description: See O(certificate_region).
        type: str
        default: cn-hangzhou
        choices: [cn-hangzhou, ap-southeast-1]
      certificate:
        description: See O(certificate).
        type: str
      certificate_src:
        description: See O(certificate_src).
        type: path
      private_key:
        description: See O(private_key).
        type: str
      private_key_src:
        description: See O(private_key_src).
        type: path
      certificate_name:
        description: See O(certificate_name).
        type: str
      ssl_protocol:
        description: See O(ssl_protocol).
        type: str
        choices: ['on', 'off']
        default: 'on'
  concurrency:
    description:
      - How many domains of O(domains) are handled at the same time.
    type: int
    default: 4
  wait_timeout:
    description:
      - Seconds to wait for one domain to show the new certificate after the change (never longer than what is
        left of O(timeout)).
    type: int
    default: 120
notes:
  - The upload form recognises the served certificate by the C(ServerCertificate) field of
    C(DescribeDomainCertificateInfo); when CDN does not return it, the domain cannot be verified and fails after
    the change. The CAS form (recommended, and what P(certpilot.tls.alicloud_rotate#role) uses) compares the CAS ID.
  - The CDN API allows 30 C(SetCdnDomainSSLCertificate) calls per second per account; throttled calls
    (C(Throttling.*)) are retried with backoff within O(timeout).
'''

EXAMPLES = r'''
- name: Upload to CAS
  certpilot.tls.alicloud_cas_certificate:
    certificate_src: /etc/certpilot/store/www.example.com/fullchain.pem
    private_key_src: /etc/certpilot/store/www.example.com/privkey.pem
  register: cas

- name: Use it on two CDN domains
  certpilot.tls.cdn_domain_certificate:
    domains:
      - domain_name: static.example.com
        certificate_id: "{{ cas.certificate_id }}"
      - domain_name: img.example.com
        certificate_id: "{{ cas.certificate_id }}"
  register: cdn

- name: Or upload the certificate to one domain directly
  certpilot.tls.cdn_domain_certificate:
    domain_name: static.example.com
    certificate_src: /etc/certpilot/store/www.example.com/fullchain.pem
    private_key_src: /etc/certpilot/store/www.example.com/privkey.pem

- name: Roll a domain back to the CAS certificate it had before
  certpilot.tls.cdn_domain_certificate:
    domain_name: static.example.com
    certificate_id: "{{ cdn.results[0].previous.certificate_id }}"
  when: rollback | default(false) | bool
'''

RETURN = r'''
domain_name:
  description: The domain of the single form.
  returned: with O(domain_name)
  type: str
  sample: static.example.com
previous:
  description: The certificate of the single form's domain before this run (see RV(results) for the keys).
  returned: with O(domain_name)
  type: dict
current:
  description: The certificate of the single form's domain after this run (in check mode, what it would be).
  returned: with O(domain_name)
  type: dict
results:
  description: One entry per domain (also for the single form), in input order. A failed domain has C(failed),
    C(msg) and, when CDN answered, C(error_code) and C(request_id) (and C(previous)/C(current) when the change was
    sent but did not show).
  returned: always
  type: list
  elements: dict
  contains:
    domain_name:
      description: The domain, lowercase.
      type: str
    changed:
      description: Whether the domain was (in check mode, would be) changed.
      type: bool
    verified:
      description: Whether the domain was read back serving the wanted certificate (false in check mode after a
        would-be change).
      type: bool
    dry_run:
      description: Whether this was check mode.
      type: bool
    previous:
      description: The domain's certificate before this run, for a rollback.
      type: dict
      contains:
        ssl_protocol:
          description: V(on) or V(off) (HTTPS).
          type: str
        certificate_type:
          description: V(cas), V(upload) or another type CDN reports (V(free), V(csr)).
          type: str
        certificate_id:
          description: CAS certificate ID (for V(cas)).
          type: str
        certificate_region:
          description: CAS region (for V(cas)).
          type: str
        certificate_name:
          description: Name of the certificate.
          type: str
        fingerprint_sha256:
          description: SHA-256 of the served leaf certificate, lowercase hex without separators.
          type: str
        common_name:
          description: Common name of the served certificate.
          type: str
        issuer:
          description: Issuing organisation as CDN shows it.
          type: str
        start_time:
          description: Start of validity as CDN shows it.
          type: str
        expire_time:
          description: End of validity as CDN shows it (UTC, C(YYYY-MM-DDThh:mm:ssZ)).
          type: str
        update_time:
          description: When the certificate was last set.
          type: str
        status:
          description: CDN's certificate status (V(success) once in effect).
          type: str
    current:
      description: The domain's certificate after this run, the keys of C(previous); in check mode, what it would be
        (keys CDN would fill in are null).
      type: dict
failed_items:
  description: The domains that failed, each with C(domain_name), C(msg) and, when CDN answered, C(error_code) and
    C(request_id). The module fails when this is not empty, after handling every other domain.
  returned: always
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import cdn
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.client import HAS_REQUESTS, REQUESTS_IMPORT_ERROR
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.connection import (
    alicloud_argument_spec, build_clients, exit_bulk)
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.pem import HAS_CRYPTOGRAPHY, CRYPTOGRAPHY_IMPORT_ERROR
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError

ITEM_KEYS = ('domain_name', 'certificate_id', 'certificate_region', 'certificate', 'certificate_src', 'private_key',
             'private_key_src', 'certificate_name', 'ssl_protocol')


def _item_options():
    return dict(
        certificate_id=dict(type='str'),
        certificate_region=dict(type='str', default='cn-hangzhou', choices=['cn-hangzhou', 'ap-southeast-1']),
        certificate=dict(type='str'),
        certificate_src=dict(type='path'),
        private_key=dict(type='str', no_log=True),
        private_key_src=dict(type='path'),
        certificate_name=dict(type='str'),
        ssl_protocol=dict(type='str', choices=['on', 'off'], default='on'),
    )


def main():
    argument_spec = alicloud_argument_spec()
    item = _item_options()
    argument_spec.update(item)
    argument_spec.update(
        domain_name=dict(type='str'),
        domains=dict(type='list', elements='dict', options=dict(_item_options(), domain_name=dict(type='str', required=True)),
                     mutually_exclusive=[('certificate', 'certificate_src'), ('private_key', 'private_key_src')]),
        concurrency=dict(type='int', default=4),
        wait_timeout=dict(type='int', default=120),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[('domain_name', 'domains'), ('certificate', 'certificate_src'),
                                               ('private_key', 'private_key_src')],
                           required_one_of=[('domain_name', 'domains')])
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=CRYPTOGRAPHY_IMPORT_ERROR)
    params = module.params
    if params['concurrency'] < 1 or params['wait_timeout'] < 1:
        module.fail_json(msg='concurrency and wait_timeout must be >= 1')
    specs = [dict((k, params[k]) for k in ITEM_KEYS)] if params['domain_name'] else params['domains']
    try:
        client = build_clients(params, ['cdn'], log=module.debug)['cdn']
        result = cdn.ensure_domains(cdn.CdnApi(client), specs, check_mode=module.check_mode,
                                    concurrency=params['concurrency'], wait_timeout=params['wait_timeout'],
                                    deadline=client.deadline)
    except CertpilotError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    if params['domain_name'] and not result['failed_items']:
        mine = result['results'][0]
        for key in ('domain_name', 'previous', 'current'):
            result[key] = mine.get(key)
    exit_bulk(module, result, len(specs), 'domain_name', 'CDN domains')


if __name__ == '__main__':
    main()
