# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data shaping of the certpilot.tls.alicloud_rotate role, in tested Python instead of Jinja templates.

- ``alicloud_rotate_alb_listeners``: the role's ``alicloud_rotate_alb_listeners`` + the CAS id ->
  ``listeners`` of certpilot.tls.alb_listener_certificate;
- ``alicloud_rotate_cdn_domains``: the role's ``alicloud_rotate_cdn_domains`` + the CAS id -> ``domains`` of
  certpilot.tls.cdn_domain_certificate;
- ``alicloud_rotate_result``: the upload, ALB and CDN results -> ``alicloud_rotate_result`` (switched /
  unchanged / failed listeners and domains, the endpoints to verify by TLS handshake, the prune prefix).

The handshake verdicts come from the shared ``slb_rotate_handshakes`` filter (plugin_utils/slb_rotate.py).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError

CAS_REGIONS = ('cn-hangzhou', 'ap-southeast-1')
# alicloud_cas_certificate's default name: <CN>-<notAfter YYYYMMDD>-<first 8 hex of the SHA-256>
DEFAULT_NAME_SUFFIX = re.compile(r'-[0-9]{8}-[0-9a-f]{8}$')


def _items(value, what):
    if not isinstance(value, list):
        raise AnsibleFilterError('%s must be a list, got %s' % (what, type(value).__name__))
    return value


def _cert_id(cert_id):
    text = '' if cert_id is None else str(cert_id).strip()
    if not text.isdigit():
        raise AnsibleFilterError('the CAS certificate id must be a number, got %r' % (cert_id,))
    return text


def alb_listeners(listeners, cert_id):
    """Role listeners (a listener id, or ``{listener_id, role: default|additional, exclusive}``) -> module listeners."""
    cid = _cert_id(cert_id)
    out = []
    for index, item in enumerate(_items(listeners, 'alicloud_rotate_alb_listeners')):
        if isinstance(item, str):
            item = {'listener_id': item}
        if not isinstance(item, dict) or not item.get('listener_id'):
            raise AnsibleFilterError('alicloud_rotate_alb_listeners[%d] needs a listener_id' % index)
        role = item.get('role') or 'default'
        entry = {'listener_id': str(item['listener_id'])}
        if role == 'default':
            entry['default_certificate_id'] = cid
        elif role == 'additional':
            entry['additional_certificate_ids'] = [cid]
            entry['additional_mode'] = 'exact' if item.get('exclusive') else 'merge'
        else:
            raise AnsibleFilterError('alicloud_rotate_alb_listeners[%d].role must be default or additional, got %r' % (
                index, role))
        out.append(entry)
    return out


def cdn_domains(domains, cert_id, certificate_region='cn-hangzhou'):
    """Role domains (a name, or ``{domain_name, certificate_region}``) -> module domains, all on CAS id ``cert_id``."""
    cid = _cert_id(cert_id)
    out = []
    for index, item in enumerate(_items(domains, 'alicloud_rotate_cdn_domains')):
        if isinstance(item, str):
            item = {'domain_name': item}
        if not isinstance(item, dict) or not item.get('domain_name'):
            raise AnsibleFilterError('alicloud_rotate_cdn_domains[%d] needs a domain_name' % index)
        region = item.get('certificate_region') or certificate_region
        if region not in CAS_REGIONS:
            raise AnsibleFilterError('alicloud_rotate_cdn_domains[%d].certificate_region must be one of %s, got %r' % (
                index, ', '.join(CAS_REGIONS), region))
        out.append({'domain_name': str(item['domain_name']), 'certificate_id': cid, 'certificate_region': region})
    return out


def _split(registered, key, what):
    """(switched, unchanged, failed) of a registered bulk module result (skipped: all empty)."""
    switched, unchanged, failed = [], [], []
    if not registered or registered.get('skipped'):
        return switched, unchanged, failed
    results = registered.get('results') or []
    for res in results:
        name = res.get(key)
        if res.get('failed'):
            failed.append({'target': '%s %s' % (what, name), key: name, 'msg': res.get('msg'),
                           'error_code': res.get('error_code'), 'request_id': res.get('request_id')})
        elif res.get('changed'):
            switched.append(res)
        else:
            unchanged.append(res)
    if registered.get('failed') and not failed:
        # the call failed as a whole (credentials, endpoint, input), or failed without naming an item: count it as
        # failed, never as switched (fail closed)
        failed.append({'target': '%s (all)' % what, key: None, 'msg': registered.get('msg') or 'the module failed',
                       'error_code': registered.get('error_code'), 'request_id': registered.get('request_id')})
    return switched, unchanged, failed


def _alb_entry(res):
    return {'listener_id': res.get('listener_id'), 'load_balancer_id': res.get('load_balancer_id'),
            'previous_default_certificate_id': res.get('previous_default_certificate_id'),
            'default_certificate_id': res.get('default_certificate_id'), 'added': res.get('added') or [],
            'removed': res.get('removed') or [], 'verified': res.get('verified', False)}


def _cdn_entry(res):
    return {'domain_name': res.get('domain_name'), 'previous': res.get('previous'), 'current': res.get('current'),
            'verified': res.get('verified', False)}


def _endpoints(endpoints):
    out = []
    for index, item in enumerate(_items(endpoints or [], 'alicloud_rotate_verify_endpoints')):
        if isinstance(item, str):
            item = {'host': item}
        if not isinstance(item, dict) or not item.get('host'):
            raise AnsibleFilterError('alicloud_rotate_verify_endpoints[%d] needs a host' % index)
        try:
            port = int(item.get('port') or 443)
        except (TypeError, ValueError):
            raise AnsibleFilterError('alicloud_rotate_verify_endpoints[%d].port must be a number' % index)
        server_name = item.get('server_name') or item['host']
        out.append({'host': str(item['host']), 'port': port, 'server_name': str(server_name),
                    'name': str(item.get('name') or '%s:%d' % (server_name, port))})
    return out


def prune_prefix(name, explicit=''):
    """The prefix prune may delete: ``explicit``, else the upload name without its date and hash suffix."""
    if explicit:
        return explicit
    name = name or ''
    stripped = DEFAULT_NAME_SUFFIX.sub('-', name)
    return stripped if stripped != name else name


def rotation_result(upload, alb, cdn, verify_endpoints=None, prune_name_prefix=''):
    """The role's ``alicloud_rotate_result`` from the registered upload, ALB and CDN results."""
    upload = upload or {}
    alb_switched, alb_unchanged, alb_failed = _split(alb, 'listener_id', 'ALB listener')
    cdn_switched, cdn_unchanged, cdn_failed = _split(cdn, 'domain_name', 'CDN domain')
    return {
        'certificate_id': upload.get('certificate_id'),
        'name': upload.get('name') or '',
        'fingerprint_sha256': upload.get('fingerprint_sha256') or '',
        'expire_time': upload.get('expire_time') or '',
        'uploaded': bool(upload.get('uploaded', False)),
        'check_mode_pending': upload.get('certificate_id') is None,
        'alb': {'switched': [_alb_entry(r) for r in alb_switched], 'unchanged': [_alb_entry(r) for r in alb_unchanged],
                'failed': alb_failed},
        'cdn': {'switched': [_cdn_entry(r) for r in cdn_switched], 'unchanged': [_cdn_entry(r) for r in cdn_unchanged],
                'failed': cdn_failed},
        'failed': alb_failed + cdn_failed,
        'handshake_endpoints': _endpoints(verify_endpoints),
        'handshakes': [],
        'prune_name_prefix': prune_prefix(upload.get('name'), prune_name_prefix),
        'pruned': [], 'prune_skipped': [],
    }
