#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: slb_listener_certificate
short_description: Point Alibaba Cloud CLB (SLB) HTTPS listeners or SNI domains at a server certificate
version_added: 0.1.0
description:
  - Sets the default server certificate of an HTTPS listener, or, with O(domain), the certificate of an
    additional domain (SNI domain extension), creating the domain extension when it does not exist.
  - Only the certificate is sent; no other listener attribute is re-sent or changed.
  - Every change is verified by describing the listener or domain extension afterwards.
  - Several targets can be switched in one call with O(targets) (concurrently, bounded by O(concurrency));
    the result says for each target whether it moved, so a partial failure is exact.
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
  load_balancer_id:
    description:
      - ID of the load balancer. Mutually exclusive with O(load_balancer_name) and O(targets).
    type: str
  load_balancer_name:
    description:
      - Name of the load balancer, resolved with C(DescribeLoadBalancers); it must match exactly one.
    type: str
  listener_port:
    description:
      - Frontend port of the HTTPS listener.
    type: int
    default: 443
  domain:
    description:
      - Switch the certificate of this additional domain (SNI) instead of the listener's default certificate.
    type: str
  targets:
    description:
      - Several targets at once, instead of O(load_balancer_id)/O(load_balancer_name)/O(listener_port)/O(domain).
    type: list
    elements: dict
    suboptions:
      load_balancer_id:
        description: ID of the load balancer.
        type: str
      load_balancer_name:
        description: Name of the load balancer (must be unique).
        type: str
      listener_port:
        description: Frontend port of the HTTPS listener.
        type: int
        default: 443
      domain:
        description: Additional domain (SNI) to switch instead of the default certificate.
        type: str
  server_certificate_id:
    description:
      - ID of the server certificate to use. It must exist in the region.
    type: str
    required: true
  concurrency:
    description:
      - How many targets are switched at the same time.
    type: int
    default: 4
'''

EXAMPLES = r'''
- name: Switch the default certificate of the HTTPS listener on port 443
  certpilot.tls.slb_listener_certificate:
    load_balancer_name: web-prod
    server_certificate_id: "{{ slb_cert.server_certificate_id }}"
  register: switched

- name: Switch an SNI domain (created if missing)
  certpilot.tls.slb_listener_certificate:
    load_balancer_id: lb-bp1o94dp5i6ea****
    listener_port: 443
    domain: api.example.com
    server_certificate_id: "{{ slb_cert.server_certificate_id }}"

- name: Switch several listeners in one call
  certpilot.tls.slb_listener_certificate:
    server_certificate_id: "{{ slb_cert.server_certificate_id }}"
    targets:
      - load_balancer_name: web-prod
      - load_balancer_name: web-prod
        domain: www.example.com
      - load_balancer_id: lb-bp1o94dp5i6ea****
        listener_port: 8443
'''

RETURN = r'''
previous_server_certificate_id:
  description: Certificate the (first) target used before; V(null) for a domain extension that did not exist.
  returned: always
  type: str
  sample: 1231579085529123_166f8204689_1714763408_709981430
server_certificate_id:
  description: The certificate now in use.
  returned: always
  type: str
load_balancer_id:
  description: ID of the (first) target's load balancer.
  returned: always
  type: str
  sample: lb-bp1o94dp5i6ea****
domain_extension_id:
  description: ID of the (first) target's domain extension, when O(domain) is used.
  returned: always
  type: str
switched:
  description:
    - Labels of the targets that were (in check mode would be) switched, in input order.
    - A label is C(<load balancer id>:<listener port>), plus C(/<domain>) for an SNI domain; the load balancer
      name stands for the id of a target whose load balancer could not be resolved.
  returned: always
  type: list
  elements: str
  sample: ['lb-bp1o94dp5i6ea****:443', 'lb-bp1o94dp5i6ea****:443/www.example.com']
unchanged:
  description: Labels (as in RV(switched)) of the targets that already used O(server_certificate_id).
  returned: always
  type: list
  elements: str
failed_targets:
  description:
    - Labels (as in RV(switched)) of the targets that failed; the reason is in RV(results[].msg) and in the task's C(msg).
    - Not named C(failed), which Ansible keeps for whether the task failed.
  returned: always
  type: list
  elements: str
results:
  description: One entry per target, in input order.
  returned: always
  type: list
  elements: dict
  contains:
    load_balancer_id:
      description: ID of the load balancer (as given, if it could not be resolved).
      type: str
    load_balancer_name:
      description: Name of the load balancer.
      type: str
    address:
      description: Service address of the load balancer.
      type: str
    listener_port:
      description: Listener port.
      type: int
    domain:
      description: SNI domain, or V(null) for the default certificate.
      type: str
    label:
      description: The target's label, as in RV(switched).
      type: str
    previous_server_certificate_id:
      description: Certificate used before.
      type: str
    changed:
      description: Whether this target was (or in check mode would be) switched.
      type: bool
    verified:
      description: Whether describing afterwards showed the wanted certificate.
      type: bool
    failed:
      description: Whether this target failed.
      type: bool
    msg:
      description: Error message of a failed target.
      type: str
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.client import HAS_REQUESTS, REQUESTS_IMPORT_ERROR
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.connection import alicloud_argument_spec, build_api
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.listeners import switch_targets
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError


def _label(result):
    return '%s:%s%s' % (result['load_balancer_id'] or result.get('load_balancer_name'), result['listener_port'],
                        ('/' + result['domain']) if result.get('domain') else '')


def _describe(result, certificate_id):
    return '%s -> %s' % (_label(result), certificate_id)


def outcome(results):
    """Labels every result (``label``) and sorts the labels into ``switched``, ``unchanged`` and ``failed_targets``
    (input order kept)."""
    lists = dict(switched=[], unchanged=[], failed_targets=[])
    for result in results:
        result['label'] = _label(result)
        kind = 'failed_targets' if result['failed'] else ('switched' if result['changed'] else 'unchanged')
        lists[kind].append(result['label'])
    return lists


def main():
    argument_spec = alicloud_argument_spec()
    argument_spec.update(
        load_balancer_id=dict(type='str'),
        load_balancer_name=dict(type='str'),
        listener_port=dict(type='int', default=443),
        domain=dict(type='str'),
        targets=dict(type='list', elements='dict', options=dict(
            load_balancer_id=dict(type='str'),
            load_balancer_name=dict(type='str'),
            listener_port=dict(type='int', default=443),
            domain=dict(type='str'),
        )),
        server_certificate_id=dict(type='str', required=True),
        concurrency=dict(type='int', default=4),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[('load_balancer_id', 'load_balancer_name', 'targets')],
        required_one_of=[('load_balancer_id', 'load_balancer_name', 'targets')],
        supports_check_mode=True,
    )
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
    params = module.params
    single = ('load_balancer_id', 'load_balancer_name', 'listener_port', 'domain')
    targets = params['targets'] or [dict((k, params[k]) for k in single)]
    for index, target in enumerate(targets):
        if bool(target.get('load_balancer_id')) == bool(target.get('load_balancer_name')):
            module.fail_json(msg='targets[%d]: give exactly one of load_balancer_id and load_balancer_name' % index)
    if params['concurrency'] < 1:
        module.fail_json(msg='concurrency must be >= 1')
    try:
        api = build_api(params, log=module.debug)
        results, failed = switch_targets(api, targets, params['server_certificate_id'], params['concurrency'],
                                         check_mode=module.check_mode)
    except CertpilotError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    first = results[0]
    result = dict(
        changed=any(r['changed'] for r in results),
        results=results,
        server_certificate_id=params['server_certificate_id'],
        previous_server_certificate_id=first.get('previous_server_certificate_id'),
        load_balancer_id=first.get('load_balancer_id'),
        domain_extension_id=first.get('domain_extension_id'),
        **outcome(results)
    )
    if module._diff:
        result['diff'] = {
            'before': {'targets': [_describe(r, r.get('previous_server_certificate_id')) for r in results]},
            'after': {'targets': [_describe(r, r.get('previous_server_certificate_id') if r['failed'] else r['server_certificate_id'])
                                  for r in results]},
        }
    if failed:
        moved = [r for r in results if not r['failed'] and r['changed']]
        result['msg'] = '%d of %d targets failed (%s); %d switched: %s' % (
            len(failed), len(results), '; '.join(f['msg'] for f in failed), len(moved),
            ', '.join(_label(r) for r in moved) or 'none')
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
