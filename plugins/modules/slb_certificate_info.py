#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: slb_certificate_info
short_description: List Alibaba Cloud CLB (SLB) server certificates, their expiry and where they are used
version_added: 0.1.0
description:
  - Lists the server certificates of a region with fingerprint, common name, alternative names, expiry and
    days remaining, and which HTTPS listeners and domain extensions (SNI) use each one.
  - Read-only; usable by expiry reports.
author:
  - certpilot maintainers (@certpilot)
extends_documentation_fragment:
  - certpilot.tls.alicloud
attributes:
  check_mode:
    support: full
    description: The module never changes anything.
  diff_mode:
    support: none
    description: Nothing to show, the module only reads.
options:
  server_certificate_id:
    description:
      - Only this certificate.
    type: str
  name_prefix:
    description:
      - Only certificates whose name starts with this prefix.
    type: str
  include_usage:
    description:
      - Scan the load balancers to find which listeners and domain extensions use each certificate.
    type: bool
    default: true
  concurrency:
    description:
      - How many load balancers are scanned at the same time.
    type: int
    default: 4
'''

EXAMPLES = r'''
- name: Certificates expiring within 30 days
  certpilot.tls.slb_certificate_info:
    alicloud_region: cn-hangzhou
  register: slb_certs

- name: Show them
  ansible.builtin.debug:
    msg: "{{ slb_certs.certificates | selectattr('days_remaining', 'lt', 30) | map(attribute='name') | list }}"
'''

RETURN = r'''
certificates:
  description: Server certificates, soonest expiry first.
  returned: always
  type: list
  elements: dict
  contains:
    server_certificate_id:
      description: ID.
      type: str
    name:
      description: Name.
      type: str
    fingerprint:
      description: SHA-1 fingerprint, lowercase hex with colons.
      type: str
    common_name:
      description: Common name.
      type: str
    subject_alternative_names:
      description: Alternative names.
      type: list
      elements: str
    expire_time:
      description: Expiry, UTC.
      type: str
    days_remaining:
      description: Whole days until expiry (negative when expired); V(null) when the API gives no expiry.
      type: int
    expire_timestamp:
      description: Expiry as the API's C(ExpireTimeStamp), milliseconds since the epoch.
      type: int
    create_time:
      description: When the certificate was uploaded, as the API gives it (C(CreateTime), UTC).
      type: str
    region_id:
      description: Region of the certificate.
      type: str
      sample: cn-hangzhou
    resource_group_id:
      description: Resource group of the certificate, V(null) when the API gives none.
      type: str
    tags:
      description: Tags of the certificate.
      type: list
      elements: dict
      contains:
        key:
          description: Tag key.
          type: str
        value:
          description: Tag value.
          type: str
    used_by:
      description: Listeners and domain extensions using the certificate.
      type: list
      elements: dict
      contains:
        load_balancer_id:
          description: Load balancer ID.
          type: str
        load_balancer_name:
          description: Load balancer name.
          type: str
        listener_port:
          description: HTTPS listener port.
          type: int
        domain:
          description: SNI domain, V(null) for the listener's default certificate.
          type: str
        domain_extension_id:
          description: Domain extension ID, V(null) for the default certificate.
          type: str
region:
  description: The region that was listed.
  returned: always
  type: str
  sample: cn-hangzhou
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.client import HAS_REQUESTS, REQUESTS_IMPORT_ERROR
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.connection import alicloud_argument_spec, build_api
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.server_certificates import certificate_info
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError


def main():
    argument_spec = alicloud_argument_spec()
    argument_spec.update(
        server_certificate_id=dict(type='str'),
        name_prefix=dict(type='str'),
        include_usage=dict(type='bool', default=True),
        concurrency=dict(type='int', default=4),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
    if module.params['concurrency'] < 1:
        module.fail_json(msg='concurrency must be >= 1')
    try:
        api = build_api(module.params, log=module.debug)
        certs = certificate_info(api, module.params['server_certificate_id'], module.params['name_prefix'],
                                 module.params['include_usage'], module.params['concurrency'])
    except CertpilotError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(changed=False, certificates=certs, region=api.client.region)


if __name__ == '__main__':
    main()
