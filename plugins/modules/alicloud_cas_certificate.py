#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: alicloud_cas_certificate
short_description: Upload, describe and prune certificates in Alibaba Cloud Certificate Management Service (CAS)
version_added: 0.2.0
description:
  - Uploads certificates with their private keys to Alibaba Cloud Certificate Management Service
    (CAS, API 2020-04-07, C(UploadUserCertificate)), the store that ALB, NLB and CDN take certificates from.
  - Idempotent by the SHA-256 fingerprint of the leaf certificate, if CAS already holds an upload with the same
    fingerprint, its ID is returned and nothing changes.
  - Before uploading, the input is checked with C(cryptography), the key must be RSA or ECDSA (P-256, P-384)
    and match the certificate, a PKCS#8 key is converted to the traditional format, and the chain is put in
    order (leaf first, each certificate signed by the next).
  - Several certificates can be handled in one call with O(certificates), with bounded concurrency; a failing
    item is named in RV(failed_items) and does not stop the others.
  - With O(prune), older uploads whose name starts with a prefix are deleted, except the newest O(prune.keep)
    and any certificate a cloud resource still uses (C(ListCloudResources)); if CAS refuses a deletion anyway,
    the certificate is listed in RV(prune_skipped) with CAS's error code.
  - With O(describe=true), every uploaded certificate is returned with its expiry, fingerprints and the cloud
    resources using it (C(ListUserCertificateOrder), all pages, and C(ListCloudResources)).
  - O(state=absent) deletes certificates by ID; CAS refuses to delete one that is in use, the error names the code.
  - API requests are signed with signature V3 (C(ACS3-HMAC-SHA256)) by default.
author:
  - certpilot maintainers (@certpilot)
extends_documentation_fragment:
  - certpilot.tls.alicloud
attributes:
  check_mode:
    support: full
    description: Reports what would be uploaded or deleted without calling any modifying API.
  diff_mode:
    support: full
    description: Shows the uploaded certificates (ID, name, SHA-256) before and after.
options:
  certificate:
    description:
      - The certificate chain (fullchain) in PEM. Mutually exclusive with O(certificate_src) and O(certificates).
    type: str
  certificate_src:
    description:
      - Path of a PEM file with the certificate chain on the managed node.
    type: path
  private_key:
    description:
      - The private key in PEM (PKCS#1, SEC1 or PKCS#8, unencrypted, RSA or ECDSA). Mutually exclusive with O(private_key_src).
    type: str
  private_key_src:
    description:
      - Path of a PEM file with the private key on the managed node.
    type: path
  name:
    description:
      - Name of the upload in CAS, 1-64 characters. Defaults to
        C(<common name>-<notAfter as YYYYMMDD>-<first 8 hex digits of the SHA-256>).
    type: str
  certificates:
    description:
      - Several certificates at once, each with the keys of the single form.
    type: list
    elements: dict
    suboptions:
      certificate:
        description: The certificate chain in PEM.
        type: str
      certificate_src:
        description: Path of a PEM file with the certificate chain.
        type: path
      private_key:
        description: The private key in PEM.
        type: str
      private_key_src:
        description: Path of a PEM file with the private key.
        type: path
      name:
        description: Name of the upload (see O(name)).
        type: str
  concurrency:
    description:
      - How many certificates of O(certificates) are handled at the same time.
    type: int
    default: 4
  state:
    description:
      - V(present) uploads (idempotently), V(absent) deletes O(certificate_ids).
    type: str
    choices: [present, absent]
    default: present
  certificate_ids:
    description:
      - With O(state=absent), the CAS certificate IDs to delete.
    type: list
    elements: str
  describe:
    description:
      - Also return RV(certificates), every uploaded certificate with expiry and usage.
      - Without any certificate to upload this makes the module a read-only report.
    type: bool
    default: false
  describe_name_prefix:
    description:
      - With O(describe=true), only certificates whose name starts with this prefix.
    type: str
  prune:
    description:
      - Delete older uploads after the upload. Certificates a cloud resource uses are never deleted.
    type: dict
    suboptions:
      name_prefix:
        description:
          - Only uploads whose name starts with this prefix are candidates.
        type: str
        required: true
      keep:
        description:
          - How many of the newest candidates (by expiry) to keep, in use or not.
        type: int
        default: 1
notes:
  - CAS and ALB accept RSA and ECDSA certificates. The classic load balancer (CLB, M(certpilot.tls.slb_server_certificate))
    accepts RSA only.
  - Certificate details are read with C(CertFilter=true), so CAS never sends a certificate body or key back.
'''

EXAMPLES = r'''
- name: Upload the renewed certificate to CAS (no-op if it is already there)
  certpilot.tls.alicloud_cas_certificate:
    certificate_src: /etc/certpilot/store/www.example.com/fullchain.pem
    private_key_src: /etc/certpilot/store/www.example.com/privkey.pem
    alicloud_region: cn-hangzhou
    prune:
      name_prefix: www.example.com-
      keep: 2
  register: cas

- name: Use it on an ALB listener
  certpilot.tls.alb_listener_certificate:
    listener_id: lsn-0bfuchhbqfv5m8un8r
    default_certificate_id: "{{ cas.certificate_id }}"

- name: Upload several certificates in one call
  certpilot.tls.alicloud_cas_certificate:
    certificates:
      - certificate_src: /etc/certpilot/store/a.example.com/fullchain.pem
        private_key_src: /etc/certpilot/store/a.example.com/privkey.pem
      - certificate_src: /etc/certpilot/store/b.example.com/fullchain.pem
        private_key_src: /etc/certpilot/store/b.example.com/privkey.pem
    concurrency: 2

- name: Report every uploaded certificate with its expiry and users
  certpilot.tls.alicloud_cas_certificate:
    describe: true
  register: report

- name: Delete an upload that nothing uses any more
  certpilot.tls.alicloud_cas_certificate:
    state: absent
    certificate_ids: ["12000002"]
'''

RETURN = r'''
certificate_id:
  description: CAS ID of the (existing or uploaded) certificate of the single form; V(null) in check mode before an upload.
  returned: when O(state=present) with O(certificate) or O(certificate_src)
  type: str
  sample: "12000001"
alb_certificate_id:
  description: The same certificate as ALB names it, C(<CertId>-<region>).
  returned: when O(state=present) with O(certificate) or O(certificate_src)
  type: str
  sample: "12000001-cn-hangzhou"
name:
  description: Name of the upload in CAS.
  returned: when O(state=present) with O(certificate) or O(certificate_src)
  type: str
  sample: www.example.com-20260301-5f2c0a6e
fingerprint_sha256:
  description: SHA-256 of the leaf certificate, lowercase hex without separators.
  returned: when O(state=present) with O(certificate) or O(certificate_src)
  type: str
expire_time:
  description: Expiry of the leaf certificate, UTC, C(YYYY-MM-DDThh:mm:ssZ).
  returned: when O(state=present) with O(certificate) or O(certificate_src)
  type: str
uploaded:
  description: Whether an upload happened (or would happen in check mode).
  returned: when O(state=present) with O(certificate) or O(certificate_src)
  type: bool
certificate:
  description: What was checked locally (no key material).
  returned: when O(state=present) with O(certificate) or O(certificate_src)
  type: dict
  contains:
    common_name:
      description: Subject common name of the leaf.
      type: str
    fingerprint:
      description: SHA-1 of the leaf, lowercase hex with colons.
      type: str
    fingerprint_sha256:
      description: SHA-256 of the leaf, lowercase hex without separators.
      type: str
    subject_alternative_names:
      description: DNS names of the leaf.
      type: list
      elements: str
    expire_time:
      description: Expiry of the leaf, UTC.
      type: str
    chain_length:
      description: Number of certificates uploaded.
      type: int
    key_converted_to_pkcs1:
      description: Whether the key was converted from PKCS#8 to the traditional format.
      type: bool
    chain_reordered:
      description: Whether the chain had to be put in order.
      type: bool
    key_type:
      description: V(RSA) or V(ECDSA).
      type: str
results:
  description: One entry per certificate handled (also for the single form), in input order, with the keys above
    (RV(certificate_id), RV(alb_certificate_id), RV(name), RV(fingerprint_sha256), RV(expire_time), RV(uploaded),
    RV(certificate)) and C(changed); a failed item has C(failed), C(msg), and C(error_code) and C(request_id) when CAS answered.
  returned: when O(state=present)
  type: list
  elements: dict
failed_items:
  description: The items that failed, each with C(index), C(name), C(msg) and, when CAS answered, C(error_code) and C(request_id).
    The module fails when this is not empty, after handling every other item.
  returned: when O(state=present)
  type: list
  elements: dict
deleted:
  description: CAS IDs deleted (by O(prune) or O(state=absent)); in check mode, those that would be deleted.
  returned: always
  type: list
  elements: str
prune_skipped:
  description: Uploads O(prune) picked but CAS refused to delete, each with C(certificate_id), C(reason) (CAS's error code) and C(request_id).
  returned: when O(state=present)
  type: list
  elements: dict
certificates:
  description: With O(describe=true), every uploaded certificate, soonest expiry first.
  returned: when O(describe=true)
  type: list
  elements: dict
  contains:
    certificate_id:
      description: CAS ID.
      type: str
    name:
      description: Name of the upload.
      type: str
    common_name:
      description: Subject common name.
      type: str
    subject_alternative_names:
      description: DNS names.
      type: list
      elements: str
    fingerprint_sha256:
      description: SHA-256, lowercase hex without separators.
      type: str
    fingerprint_sha1:
      description: SHA-1 as CAS shows it, lowercase hex without separators.
      type: str
    issuer:
      description: Issuer as CAS shows it.
      type: str
    start_date:
      description: Start of validity, C(YYYY-MM-DD).
      type: str
    end_date:
      description: End of validity, C(YYYY-MM-DD).
      type: str
    expire_time:
      description: End of validity, UTC, C(YYYY-MM-DDThh:mm:ssZ).
      type: str
    days_remaining:
      description: Whole days until expiry (negative when expired).
      type: int
    expired:
      description: Whether CAS considers it expired.
      type: bool
    used_by:
      description: Cloud resources using it, each with C(cloud_product), C(instance_id), C(listener_id),
        C(listener_port), C(region_id), C(domain) and C(default) (whether it is the default certificate there).
      type: list
      elements: dict
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import cas
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.client import HAS_REQUESTS, REQUESTS_IMPORT_ERROR
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.connection import alicloud_argument_spec, build_clients
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.pem import (
    HAS_CRYPTOGRAPHY, CRYPTOGRAPHY_IMPORT_ERROR, read_material)
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError

SINGLE = ('certificate', 'certificate_src', 'private_key', 'private_key_src', 'name')


def _item(spec):
    return {'certificate': read_material(spec.get('certificate'), spec.get('certificate_src'), 'certificate'),
            'private_key': read_material(spec.get('private_key'), spec.get('private_key_src'), 'private key'),
            'name': spec.get('name')}


def main():
    argument_spec = alicloud_argument_spec()
    item_options = dict(certificate=dict(type='str'), certificate_src=dict(type='path'),
                        private_key=dict(type='str', no_log=True), private_key_src=dict(type='path'),
                        name=dict(type='str'))
    argument_spec.update(
        certificate=dict(type='str'),
        certificate_src=dict(type='path'),
        private_key=dict(type='str', no_log=True),
        private_key_src=dict(type='path'),
        name=dict(type='str'),
        certificates=dict(type='list', elements='dict', options=item_options),
        concurrency=dict(type='int', default=4),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        certificate_ids=dict(type='list', elements='str'),
        describe=dict(type='bool', default=False),
        describe_name_prefix=dict(type='str'),
        prune=dict(type='dict', options=dict(
            name_prefix=dict(type='str', required=True),
            keep=dict(type='int', default=1),
        )),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[('certificate', 'certificate_src'), ('private_key', 'private_key_src'),
                            ('certificates', 'certificate'), ('certificates', 'certificate_src')],
        required_if=[('state', 'absent', ('certificate_ids',))],
        supports_check_mode=True,
    )
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=CRYPTOGRAPHY_IMPORT_ERROR)
    params = module.params
    if params['concurrency'] < 1:
        module.fail_json(msg='concurrency must be >= 1')
    if params['prune'] and params['prune']['keep'] < 0:
        module.fail_json(msg='prune.keep must be >= 0')
    single = any(params[k] for k in SINGLE[:4])
    try:
        api = cas.CasApi(build_clients(params, ['cas'], log=module.debug)['cas'])
        if params['state'] == 'absent':
            result = cas.remove_certificates(api, params['certificate_ids'], check_mode=module.check_mode)
        else:
            items = [_item(spec) for spec in params['certificates'] or []]
            if single:
                items.append(_item(params))
            if items or params['prune']:
                result = cas.ensure_certificates(api, items, params['prune'], check_mode=module.check_mode,
                                                 concurrency=params['concurrency'])
            else:
                result = {'changed': False, 'results': [], 'failed_items': [], 'deleted': [], 'prune_skipped': []}
            if single and not result['failed_items']:
                mine = result['results'][-1]
                for key in ('certificate_id', 'alb_certificate_id', 'name', 'fingerprint_sha256', 'expire_time',
                            'uploaded', 'certificate'):
                    result[key] = mine.get(key)
        if params['describe']:
            result['certificates'] = cas.describe_all(api, params['describe_name_prefix'])
    except CertpilotError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    if not module._diff:
        result.pop('diff', None)
    if result.get('failed_items'):
        names = ', '.join('#%d %s: %s' % (f['index'], f.get('name') or '', f['msg']) for f in result['failed_items'])
        module.fail_json(msg='%d of %d certificates failed: %s' % (len(result['failed_items']), len(result['results']), names),
                         **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
