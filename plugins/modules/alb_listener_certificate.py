#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: alb_listener_certificate
short_description: Set the default and additional (SNI) certificates of Alibaba Cloud ALB HTTPS listeners
version_added: 0.2.0
description:
  - Sets an Application Load Balancer (ALB, API 2020-06-16) HTTPS or QUIC listener's default certificate
    (C(UpdateListenerAttribute) with C(Certificates)) and its additional certificates, chosen by SNI
    (C(AssociateAdditionalCertificatesWithListener), C(DissociateAdditionalCertificatesFromListener)), by
    Certificate Management Service (CAS) certificate ID, as M(certpilot.tls.alicloud_cas_certificate) returns it.
  - Reads what the listener has first (C(GetListenerAttribute), C(ListListenerCertificates)) and sends only what
    changes; the previous default certificate is returned for a rollback.
  - ALB applies changes asynchronously. After each change the module waits, with backoff and a deadline
    (O(wait_timeout), within O(timeout)), until the listener is C(Running) again and new additional certificates
    are C(Associated), then reads the certificates back to verify them.
  - Every modifying call carries a C(ClientToken), so a retried call is not applied twice.
  - In check mode the same calls are sent with C(DryRun=true), ALB validates them (listener, certificate IDs,
    state) without changing anything.
  - Several listeners can be handled in one call with O(listeners); a failing listener is named in
    RV(failed_items) and does not stop the others.
author:
  - certpilot maintainers (@certpilot)
extends_documentation_fragment:
  - certpilot.tls.alicloud
attributes:
  check_mode:
    support: full
    description: Sends the modifying calls with C(DryRun=true); nothing changes.
  diff_mode:
    support: full
    description: Shows each listener's default and additional certificates before and after.
options:
  listener_id:
    description:
      - ID of the ALB listener. Mutually exclusive with O(listeners).
    type: str
  default_certificate_id:
    description:
      - CAS certificate ID (C(12000001)) or ALB certificate ID (C(12000001-cn-hangzhou)) for the default certificate.
        Not set, the default certificate stays as it is.
    type: str
  additional_certificate_ids:
    description:
      - CAS or ALB certificate IDs of additional certificates (served by SNI). Not set, they stay as they are.
    type: list
    elements: str
  additional_mode:
    description:
      - V(merge) adds the missing ones of O(additional_certificate_ids) and keeps the others;
        V(exact) also removes every additional certificate not listed.
    type: str
    choices: [merge, exact]
    default: merge
  listeners:
    description:
      - Several listeners at once, each with the keys of the single form.
    type: list
    elements: dict
    suboptions:
      listener_id:
        description: ID of the ALB listener.
        type: str
        required: true
      default_certificate_id:
        description: See O(default_certificate_id).
        type: str
      additional_certificate_ids:
        description: See O(additional_certificate_ids).
        type: list
        elements: str
      additional_mode:
        description: See O(additional_mode).
        type: str
        choices: [merge, exact]
        default: merge
  concurrency:
    description:
      - How many listeners of O(listeners) are handled at the same time.
    type: int
    default: 4
  wait:
    description:
      - Wait for the listener to be C(Running) (and new additional certificates C(Associated)) after each change.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for one listener after one change (never longer than what is left of O(timeout)).
    type: int
    default: 120
'''

EXAMPLES = r'''
- name: Upload to CAS, then use it as the default certificate of an ALB listener
  certpilot.tls.alicloud_cas_certificate:
    certificate_src: /etc/certpilot/store/www.example.com/fullchain.pem
    private_key_src: /etc/certpilot/store/www.example.com/privkey.pem
  register: cas

- name: Switch the listener
  certpilot.tls.alb_listener_certificate:
    listener_id: lsn-0bfuchhbqfv5m8un8r
    default_certificate_id: "{{ cas.certificate_id }}"
  register: alb

- name: Roll back to the previous certificate
  certpilot.tls.alb_listener_certificate:
    listener_id: lsn-0bfuchhbqfv5m8un8r
    default_certificate_id: "{{ alb.previous_default_certificate_id }}"
  when: rollback | default(false) | bool

- name: Two listeners, one with an extra SNI certificate, exactly these
  certpilot.tls.alb_listener_certificate:
    listeners:
      - listener_id: lsn-0bfuchhbqfv5m8un8r
        default_certificate_id: "12000001"
      - listener_id: lsn-8qz2rgbmbwe3ppgcy6
        default_certificate_id: "12000001"
        additional_certificate_ids: ["12000002"]
        additional_mode: exact
'''

RETURN = r'''
listener_id:
  description: The listener of the single form.
  returned: with O(listener_id)
  type: str
  sample: lsn-0bfuchhbqfv5m8un8r
previous_default_certificate_id:
  description: The default certificate (ALB form C(<CertId>-<region>)) before this run, for a rollback.
  returned: with O(listener_id)
  type: str
  sample: "12000000-cn-hangzhou"
default_certificate_id:
  description: The default certificate after this run (in check mode, what it would be).
  returned: with O(listener_id)
  type: str
  sample: "12000001-cn-hangzhou"
additional_certificate_ids:
  description: The additional certificates after this run.
  returned: with O(listener_id)
  type: list
  elements: str
added:
  description: Additional certificates associated by this run.
  returned: with O(listener_id)
  type: list
  elements: str
removed:
  description: Additional certificates dissociated by this run.
  returned: with O(listener_id)
  type: list
  elements: str
results:
  description: One entry per listener (also for the single form), in input order, with C(listener_id),
    C(load_balancer_id), C(listener_port), C(previous_default_certificate_id), C(default_certificate_id),
    C(previous_additional_certificate_ids), C(additional_certificate_ids), C(added), C(removed), C(changed),
    C(dry_run) (check mode) and C(verified) (read back after a change); a failed listener has C(failed), C(msg)
    and, when ALB answered, C(error_code) and C(request_id).
  returned: always
  type: list
  elements: dict
failed_items:
  description: The listeners that failed, each with C(listener_id), C(msg) and, when ALB answered, C(error_code)
    and C(request_id). The module fails when this is not empty, after handling every other listener.
  returned: always
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import alb
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.client import HAS_REQUESTS, REQUESTS_IMPORT_ERROR
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.connection import (
    alicloud_argument_spec, build_clients, exit_bulk)
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError


def main():
    argument_spec = alicloud_argument_spec()
    argument_spec.update(
        listener_id=dict(type='str'),
        default_certificate_id=dict(type='str'),
        additional_certificate_ids=dict(type='list', elements='str'),
        additional_mode=dict(type='str', choices=['merge', 'exact'], default='merge'),
        listeners=dict(type='list', elements='dict', options=dict(
            listener_id=dict(type='str', required=True),
            default_certificate_id=dict(type='str'),
            additional_certificate_ids=dict(type='list', elements='str'),
            additional_mode=dict(type='str', choices=['merge', 'exact'], default='merge'),
        )),
        concurrency=dict(type='int', default=4),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=120),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[('listener_id', 'listeners')],
                           required_one_of=[('listener_id', 'listeners')])
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
    params = module.params
    if params['concurrency'] < 1 or params['wait_timeout'] < 1:
        module.fail_json(msg='concurrency and wait_timeout must be >= 1')
    if params['listener_id']:
        keys = ('listener_id', 'default_certificate_id', 'additional_certificate_ids', 'additional_mode')
        specs = [dict((k, params[k]) for k in keys)]
    else:
        specs = params['listeners']
    try:
        client = build_clients(params, ['alb'], log=module.debug)['alb']
        result = alb.ensure_listeners(alb.AlbApi(client), specs, check_mode=module.check_mode, wait=params['wait'],
                                      wait_timeout=params['wait_timeout'], concurrency=params['concurrency'],
                                      deadline=client.deadline)
    except CertpilotError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    if params['listener_id'] and not result['failed_items']:
        mine = result['results'][0]
        for key in ('listener_id', 'previous_default_certificate_id', 'default_certificate_id',
                    'additional_certificate_ids', 'added', 'removed'):
            result[key] = mine.get(key)
    exit_bulk(module, result, len(specs), 'listener_id', 'listeners')


if __name__ == '__main__':
    main()
