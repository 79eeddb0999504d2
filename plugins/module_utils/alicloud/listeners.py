# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLB HTTPS listeners and SNI domain extensions: point them at a server certificate, then verify."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import slb
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.parallel import run_parallel


def switch_target(api, target, server_certificate_id, check_mode=False):
    """Point one listener (or one of its SNI domains) at ``server_certificate_id``, then verify."""
    lb = slb.resolve_load_balancer(api, target.get('load_balancer_id'), target.get('load_balancer_name'))
    lb_id = lb['LoadBalancerId']
    port = int(target.get('listener_port') or 443)
    domain = target.get('domain')
    out = {'load_balancer_id': lb_id, 'load_balancer_name': lb.get('LoadBalancerName'), 'address': lb.get('Address'),
           'listener_port': port,
           'domain': domain, 'domain_extension_id': None, 'server_certificate_id': server_certificate_id,
           'changed': False, 'verified': False}
    if port not in api.https_listeners(lb_id):
        raise CertpilotError('Load balancer %s has no HTTPS listener on port %d' % (lb_id, port))
    if domain:
        exts = [e for e in api.domain_extensions(lb_id, port) if e['Domain'].lower() == domain.lower()]
        previous = exts[0].get('ServerCertificateId') if exts else None
        out['previous_server_certificate_id'] = previous
        out['domain_extension_id'] = exts[0]['DomainExtensionId'] if exts else None
        if previous == server_certificate_id:
            out['verified'] = True
            return out
        out['changed'] = True
        if check_mode:
            return out
        if exts:
            api.set_domain_extension(exts[0]['DomainExtensionId'], server_certificate_id)
        else:
            added = api.add_domain_extension(lb_id, port, domain, server_certificate_id)
            out['domain_extension_id'] = added['DomainExtensionId']
        now = [e for e in api.domain_extensions(lb_id, port, out['domain_extension_id'])
               if e['DomainExtensionId'] == out['domain_extension_id']]
        actual = now[0].get('ServerCertificateId') if now else None
    else:
        previous = api.https_listener(lb_id, port).get('ServerCertificateId')
        out['previous_server_certificate_id'] = previous
        if previous == server_certificate_id:
            out['verified'] = True
            return out
        out['changed'] = True
        if check_mode:
            return out
        api.set_listener_certificate(lb_id, port, server_certificate_id)
        actual = api.https_listener(lb_id, port).get('ServerCertificateId')
    if actual != server_certificate_id:
        raise CertpilotError('After the switch, %s:%d%s still reports certificate %s instead of %s'
                             % (lb_id, port, (' domain %s' % domain) if domain else '', actual, server_certificate_id))
    out['verified'] = True
    return out


def switch_targets(api, targets, server_certificate_id, concurrency=4, check_mode=False):
    """Switch every target (concurrently); one failure never hides which others moved."""
    if not api.server_certificates(certificate_id=server_certificate_id):
        raise CertpilotError('Server certificate %s does not exist in region %s'
                             % (server_certificate_id, api.client.region))
    outcomes = run_parallel(lambda t: switch_target(api, t, server_certificate_id, check_mode), targets, concurrency)
    results, failed = [], []
    for outcome in outcomes:
        if outcome.ok:
            item = dict(outcome.value, failed=False)
        else:
            target = outcome.item
            item = {'load_balancer_id': target.get('load_balancer_id'), 'load_balancer_name': target.get('load_balancer_name'),
                    'listener_port': int(target.get('listener_port') or 443), 'domain': target.get('domain'),
                    'server_certificate_id': server_certificate_id, 'changed': False, 'verified': False,
                    'failed': True, 'msg': getattr(outcome.error, 'msg', None) or str(outcome.error)}
            failed.append(item)
        results.append(item)
    return results, failed
