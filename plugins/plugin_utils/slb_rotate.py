# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data shaping of the certpilot.tls.slb_rotate role, in tested Python instead of Jinja templates.

- ``slb_rotate_module_targets``: the role's ``slb_rotate_targets`` -> ``targets`` of
  certpilot.tls.slb_listener_certificate;
- ``slb_rotate_result``: the upload and switch results -> ``slb_rotate_result`` (switched / unchanged /
  failed targets, and the endpoints to verify with a TLS handshake);
- ``slb_rotate_handshakes``: certpilot.tls.tls_expiry_facts results -> one verdict per target.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError


def _target_label(lb, port, domain):
    return '%s:%s%s' % (lb, port, ('/' + domain) if domain else '')


def module_targets(targets):
    """Role targets (``load_balancer``/``port``/``domain``, or the module's own keys) -> module targets."""
    if not isinstance(targets, list):
        raise AnsibleFilterError('slb_rotate_targets must be a list, got %s' % type(targets).__name__)
    out = []
    for index, target in enumerate(targets):
        if not isinstance(target, dict):
            raise AnsibleFilterError('slb_rotate_targets[%d] must be a dict, got %s' % (index, type(target).__name__))
        lb = target.get('load_balancer', target.get('load_balancer_id', target.get('load_balancer_name', '')))
        lb = '' if lb is None else str(lb)
        if not lb:
            raise AnsibleFilterError('slb_rotate_targets[%d] names no load balancer '
                                     '(load_balancer, load_balancer_id or load_balancer_name)' % index)
        by_id = ('load_balancer_id' in target or lb.startswith('lb-')) and 'load_balancer_name' not in target
        port = target.get('port', target.get('listener_port', 443))
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise AnsibleFilterError('slb_rotate_targets[%d].port must be a number, got %r' % (index, port))
        item = {'load_balancer_id' if by_id else 'load_balancer_name': lb, 'listener_port': port}
        if target.get('domain'):
            item['domain'] = str(target['domain'])
        out.append(item)
    return out


def _switch_results(switch):
    """(results, error of the whole call or None) of the registered switch task."""
    if not switch or switch.get('skipped'):
        return [], None
    results = switch.get('results') or []
    if not results:
        return [], switch.get('msg') or 'the switch module returned no results'
    return results, None


def _handshake_endpoints(targets, results, verify_lb_address):
    endpoints = []
    for target, res in zip(targets, results):
        if res.get('failed'):
            continue
        host = target.get('verify_host') or (res.get('address') if verify_lb_address else '')
        if not host:
            continue
        domain = target.get('domain') or ''
        endpoints.append({
            'host': host,
            'port': int(target.get('verify_port', res.get('listener_port'))),
            'server_name': domain or target.get('verify_server_name') or host,
            'name': _target_label(res.get('load_balancer_id'), res.get('listener_port'), domain),
        })
    return endpoints


def rotation_result(upload, switch, targets, verify_lb_address=True):
    """The role's ``slb_rotate_result`` from the registered upload and switch results."""
    upload = upload or {}
    results, switch_error = _switch_results(switch)
    switched, unchanged, failed = [], [], []
    for res in results:
        base = {'load_balancer_id': res.get('load_balancer_id'), 'listener_port': res.get('listener_port'),
                'domain': res.get('domain')}
        if res.get('failed'):
            lb = res.get('load_balancer_id') or res.get('load_balancer_name')
            base.update(target=_target_label(lb, res.get('listener_port'), res.get('domain')),
                        load_balancer_name=res.get('load_balancer_name'), msg=res.get('msg'))
            failed.append(base)
            continue
        base['target'] = _target_label(res.get('load_balancer_id'), res.get('listener_port'), res.get('domain'))
        if res.get('changed'):
            base.update(previous_server_certificate_id=res.get('previous_server_certificate_id'),
                        verified=res.get('verified'))
            switched.append(base)
        else:
            unchanged.append(base)
    if switch_error is not None:
        failed.append({'target': 'all', 'msg': switch_error})
    result = {
        'server_certificate_id': upload.get('server_certificate_id'),
        'name': upload.get('name') or '',
        'fingerprint': upload.get('fingerprint') or '',
        'fingerprint_sha256': (upload.get('certificate') or {}).get('fingerprint_sha256') or '',
        'expire_time': upload.get('expire_time') or '',
        'uploaded': bool(upload.get('uploaded', False)),
        'check_mode_pending': upload.get('server_certificate_id') is None,
        'switched': switched, 'unchanged': unchanged, 'failed': failed,
        'handshake_endpoints': _handshake_endpoints(targets or [], results, verify_lb_address),
        'pruned': [], 'prune_skipped': [],
    }
    if switch_error is not None:
        result['switch_error'] = switch_error
    return result


def handshakes(tls_results, fingerprint_sha256):
    """tls_expiry_facts results -> [{target, status (ok|mismatch|unreachable), served_fingerprint_sha256, error}]."""
    out = []
    for res in tls_results or []:
        served = res.get('fingerprint_sha256')
        if res.get('status') == 'error':
            status = 'unreachable'
        elif served and served == fingerprint_sha256:
            status = 'ok'
        else:
            status = 'mismatch'
        out.append({'target': res.get('name'), 'status': status, 'served_fingerprint_sha256': served,
                    'error': res.get('error')})
    return out
