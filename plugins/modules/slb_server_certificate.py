#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: slb_server_certificate
short_description: Upload, deduplicate and prune Alibaba Cloud CLB (SLB) server certificates
version_added: 0.1.0
description:
  - Uploads a certificate chain and its private key as an SLB (Classic Load Balancer) server certificate,
    unless a certificate with the same SHA-1 fingerprint already exists in the region (then its ID is returned
    and nothing changes).
  - Before uploading, the input is checked and normalised with C(cryptography) the way CLB needs it
    the key must be RSA (an EC key is refused with a clear message), a PKCS#8 key is converted to an
    unencrypted PKCS#1 C(RSA PRIVATE KEY), the key must match the certificate, and the chain is put in order
    (leaf first, each certificate signed by the next) without blank lines.
  - With O(prune), older certificates whose name starts with a prefix are deleted, except the newest
    O(prune.keep) and any certificate still used by a listener or a domain extension.
  - O(state=absent) deletes certificates by ID, name or certificate content; a certificate in use is never deleted.
author:
  - certpilot maintainers (@certpilot)
extends_documentation_fragment:
  - certpilot.tls.alicloud
attributes:
  check_mode:
    support: full
    description: Reports what would change without calling any modifying API.
  diff_mode:
    support: full
    description: Shows the certificates or listener bindings before and after.
options:
  certificate:
    description:
      - The certificate chain (fullchain) in PEM, leaf first. Mutually exclusive with O(certificate_src).
    type: str
  certificate_src:
    description:
      - Path of a PEM file with the certificate chain on the managed node.
    type: path
  private_key:
    description:
      - The private key in PEM (PKCS#1 or PKCS#8, unencrypted, RSA). Mutually exclusive with O(private_key_src).
    type: str
  private_key_src:
    description:
      - Path of a PEM file with the private key on the managed node.
    type: path
  name:
    description:
      - Name of the server certificate. Defaults to C(<common name>-<notAfter as YYYYMMDD>), mapped onto
        the SLB naming rules (a leading C(*.) becomes C(wildcard.)).
      - A given name must follow the SLB rules, 1-80 characters starting with a letter, then letters, digits,
        C(.), C(_) or C(-).
    type: str
  state:
    description:
      - V(present) uploads (idempotently), V(absent) deletes.
    type: str
    choices: [present, absent]
    default: present
  server_certificate_id:
    description:
      - With O(state=absent), the ID of the certificate to delete.
    type: str
  resource_group_id:
    description:
      - Resource group for an upload.
    type: str
  tags:
    description:
      - Tags for an upload (key to value).
    type: dict
  prune:
    description:
      - Delete older certificates after the upload. Certificates used by a listener or a domain extension
        are never deleted (also when the API reports C(CertificateAndPrivateKeyIsRefered) late).
    type: dict
    suboptions:
      name_prefix:
        description:
          - Only certificates whose name starts with this prefix are candidates.
        type: str
        required: true
      keep:
        description:
          - How many of the newest candidates (by expiry) to keep, in use or not.
        type: int
        default: 1
'''

EXAMPLES = r'''
- name: Upload the renewed certificate (no-op if it is already there)
  certpilot.tls.slb_server_certificate:
    certificate_src: /etc/certpilot/store/www.example.com/fullchain.pem
    private_key_src: /etc/certpilot/store/www.example.com/privkey.pem
    alicloud_region: cn-hangzhou
  register: slb_cert

- name: Upload and delete old unused copies, keeping the two newest
  certpilot.tls.slb_server_certificate:
    certificate: "{{ lookup('ansible.builtin.file', 'fullchain.pem') }}"
    private_key: "{{ lookup('ansible.builtin.file', 'privkey.pem') }}"
    name: www.example.com-20260301
    prune:
      name_prefix: www.example.com-
      keep: 2

- name: Delete a certificate that nothing uses any more
  certpilot.tls.slb_server_certificate:
    state: absent
    server_certificate_id: 1231579085529123_166f8204689_1714763408_709981430
'''

RETURN = r'''
server_certificate_id:
  description: ID of the (existing or uploaded) certificate; with O(state=absent) the first deleted one. V(null) in check mode before an upload.
  returned: always
  type: str
  sample: 1231579085529123_166f8204689_1714763408_709981430
name:
  description: Name of the certificate in SLB.
  returned: when O(state=present)
  type: str
  sample: www.example.com-20260301
fingerprint:
  description: SHA-1 fingerprint of the leaf certificate, lowercase hex with colons (as the SLB API shows it).
  returned: when O(state=present)
  type: str
  sample: "cd:90:1b:7b:49:4d:1d:90:f6:01:de:9a:81:7d:31:a7:38:1d:84:8d"
expire_time:
  description: Expiry of the leaf certificate, UTC, C(YYYY-MM-DDThh:mm:ssZ).
  returned: when O(state=present)
  type: str
  sample: "2026-03-01T12:00:00Z"
uploaded:
  description: Whether an upload happened (or would happen in check mode).
  returned: when O(state=present)
  type: bool
deleted:
  description: IDs of deleted certificates (by O(prune) or O(state=absent)); in check mode, those that would be deleted.
  returned: always
  type: list
  elements: str
prune_skipped:
  description: Certificates O(prune) left because the API said they are in use.
  returned: when O(state=present)
  type: list
  elements: dict
certificate:
  description: What was checked locally (no key material).
  returned: when O(state=present)
  type: dict
  contains:
    common_name:
      description: Subject common name of the leaf.
      type: str
    fingerprint:
      description: SHA-1 fingerprint of the leaf, lowercase hex with colons (as the SLB API shows it; same as RV(fingerprint)).
      type: str
    expire_time:
      description: Expiry of the leaf, UTC, C(YYYY-MM-DDThh:mm:ssZ) (same as RV(expire_time)).
      type: str
    fingerprint_sha256:
      description: SHA-256 of the leaf DER, lowercase hex without colons (compare with C(certpilot.tls.tls_expiry_facts)).
      type: str
    subject_alternative_names:
      description: DNS names of the leaf.
      type: list
      elements: str
    chain_length:
      description: Number of certificates uploaded.
      type: int
    key_converted_to_pkcs1:
      description: Whether the key was converted from PKCS#8 to PKCS#1.
      type: bool
    chain_reordered:
      description: Whether the chain had to be put in order.
      type: bool
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.client import HAS_REQUESTS, REQUESTS_IMPORT_ERROR
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.connection import alicloud_argument_spec, build_api
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.server_certificates import ensure_certificate, remove_certificates
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.pem import (
    HAS_CRYPTOGRAPHY, CRYPTOGRAPHY_IMPORT_ERROR, read_material)
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError


def main():
    argument_spec = alicloud_argument_spec()
    argument_spec.update(
        certificate=dict(type='str'),
        certificate_src=dict(type='path'),
        private_key=dict(type='str', no_log=True),
        private_key_src=dict(type='path'),
        name=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        server_certificate_id=dict(type='str'),
        resource_group_id=dict(type='str'),
        tags=dict(type='dict'),
        prune=dict(type='dict', options=dict(
            name_prefix=dict(type='str', required=True),
            keep=dict(type='int', default=1),
        )),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[('certificate', 'certificate_src'), ('private_key', 'private_key_src')],
        supports_check_mode=True,
    )
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=CRYPTOGRAPHY_IMPORT_ERROR)
    params = module.params
    try:
        cert = read_material(params['certificate'], params['certificate_src'], 'certificate')
        api = build_api(params, log=module.debug)
        if params['state'] == 'present':
            key = read_material(params['private_key'], params['private_key_src'], 'private key')
            if not cert or not key:
                module.fail_json(msg='state=present needs certificate or certificate_src, and private_key or private_key_src')
            if params['prune'] and params['prune']['keep'] < 0:
                module.fail_json(msg='prune.keep must be >= 0')
            result = ensure_certificate(api, cert, key, name=params['name'], resource_group_id=params['resource_group_id'],
                                        tags=params['tags'], prune=params['prune'], check_mode=module.check_mode)
        else:
            result = remove_certificates(api, params['server_certificate_id'], params['name'], cert,
                                         check_mode=module.check_mode)
    except CertpilotError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    if not module._diff:
        result.pop('diff', None)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
