# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLB (CLB, API 2014-05-15) certificate operations on top of ``RpcClient``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.errors import AlicloudApiError
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import UTC
from ansible_collections.certpilot.tls.plugins.module_utils.common.parallel import run_parallel

PAGE_SIZE = 100


def _items(data, plural, singular):
    """``{"Plural": {"Singular": [...]}}`` -> list (tolerates an empty or missing wrapper)."""
    outer = data.get(plural) or {}
    if isinstance(outer, list):
        return outer
    inner = outer.get(singular) or []
    return inner if isinstance(inner, list) else [inner]


def _require(obj, keys, what):
    missing = [k for k in keys if obj.get(k) in (None, '')]
    if missing:
        raise CertpilotError('Unexpected API answer: %s lacks %s' % (what, ', '.join(missing)))
    return obj


class SlbApi:
    """Thin, validated wrappers around the actions we use."""

    def __init__(self, client):
        self.client = client

    # --- server certificates
    def server_certificates(self, certificate_id=None, resource_group_id=None):
        data = self.client.call('DescribeServerCertificates', {
            'ServerCertificateId': certificate_id, 'ResourceGroupId': resource_group_id})
        certs = _items(data, 'ServerCertificates', 'ServerCertificate')
        for cert in certs:
            _require(cert, ('ServerCertificateId', 'Fingerprint'), 'a ServerCertificate')
            cert['Fingerprint'] = cert['Fingerprint'].lower()
        return certs

    def upload(self, cert_pem, key_pem, name, resource_group_id=None, tags=None):
        params = {'ServerCertificate': cert_pem, 'PrivateKey': key_pem, 'ServerCertificateName': name,
                  'ResourceGroupId': resource_group_id}
        for index, (key, value) in enumerate(sorted((tags or {}).items()), 1):
            params['Tag.%d.Key' % index] = key
            params['Tag.%d.Value' % index] = value
        data = self.client.call('UploadServerCertificate', params, idempotent=False)
        return _require(data, ('ServerCertificateId', 'Fingerprint'), 'UploadServerCertificate')

    def delete(self, certificate_id):
        return self.client.call('DeleteServerCertificate', {'ServerCertificateId': certificate_id})

    # --- load balancers and listeners
    def load_balancers(self, load_balancer_id=None, name=None):
        found, page = [], 1
        while True:
            data = self.client.call('DescribeLoadBalancers', {
                'LoadBalancerId': load_balancer_id, 'LoadBalancerName': name,
                'PageNumber': page, 'PageSize': PAGE_SIZE})
            batch = _items(data, 'LoadBalancers', 'LoadBalancer')
            found.extend(_require(lb, ('LoadBalancerId',), 'a LoadBalancer') for lb in batch)
            total = int(data.get('TotalCount') or 0)
            if not batch or len(found) >= total or page >= 1000:
                return found
            page += 1

    def load_balancer_attribute(self, load_balancer_id):
        return self.client.call('DescribeLoadBalancerAttribute', {'LoadBalancerId': load_balancer_id})

    def https_listeners(self, load_balancer_id):
        data = self.load_balancer_attribute(load_balancer_id)
        ports = _items(data, 'ListenerPortsAndProtocol', 'ListenerPortAndProtocol')
        return sorted(int(p['ListenerPort']) for p in ports if str(p.get('ListenerProtocol', '')).lower() == 'https')

    def https_listener(self, load_balancer_id, port):
        data = self.client.call('DescribeLoadBalancerHTTPSListenerAttribute',
                                {'LoadBalancerId': load_balancer_id, 'ListenerPort': port})
        return data

    def set_listener_certificate(self, load_balancer_id, port, certificate_id):
        # Only what changes: the other listener attributes are left as they are.
        return self.client.call('SetLoadBalancerHTTPSListenerAttribute', {
            'LoadBalancerId': load_balancer_id, 'ListenerPort': port, 'ServerCertificateId': certificate_id})

    def domain_extensions(self, load_balancer_id, port, domain_extension_id=None):
        data = self.client.call('DescribeDomainExtensions', {
            'LoadBalancerId': load_balancer_id, 'ListenerPort': port, 'DomainExtensionId': domain_extension_id})
        return [_require(d, ('DomainExtensionId', 'Domain'), 'a DomainExtension')
                for d in _items(data, 'DomainExtensions', 'DomainExtension')]

    def add_domain_extension(self, load_balancer_id, port, domain, certificate_id):
        data = self.client.call('AddDomainExtension', {
            'LoadBalancerId': load_balancer_id, 'ListenerPort': port, 'Domain': domain,
            'ServerCertificateId': certificate_id}, idempotent=False)
        return _require(data, ('DomainExtensionId',), 'AddDomainExtension')

    def set_domain_extension(self, domain_extension_id, certificate_id):
        return self.client.call('SetDomainExtensionAttribute', {
            'DomainExtensionId': domain_extension_id, 'ServerCertificateId': certificate_id})


def resolve_load_balancer(api, load_balancer_id=None, name=None):
    """Return the load balancer dict; a name must match exactly one."""
    if load_balancer_id:
        lbs = [lb for lb in api.load_balancers(load_balancer_id=load_balancer_id)
               if lb['LoadBalancerId'] == load_balancer_id]
        if not lbs:
            raise CertpilotError('Load balancer %s not found in region %s' % (load_balancer_id, api.client.region))
        return lbs[0]
    lbs = [lb for lb in api.load_balancers(name=name) if lb.get('LoadBalancerName') == name]
    if not lbs:
        raise CertpilotError('No load balancer named %r in region %s' % (name, api.client.region))
    if len(lbs) > 1:
        raise CertpilotError('The load balancer name %r is ambiguous in region %s: %s; use load_balancer_id'
                             % (name, api.client.region, ', '.join(sorted(lb['LoadBalancerId'] for lb in lbs))),
                             candidates=sorted(lb['LoadBalancerId'] for lb in lbs))
    return lbs[0]


def certificate_usage(api, concurrency=4):
    """Map certificate id -> list of users (listeners and domain extensions) across the region."""
    usage = {}
    lbs = api.load_balancers()

    def scan(lb):
        lb_id = lb['LoadBalancerId']
        found = []
        for port in api.https_listeners(lb_id):
            listener = api.https_listener(lb_id, port)
            if listener.get('ServerCertificateId'):
                found.append((listener['ServerCertificateId'], {
                    'load_balancer_id': lb_id, 'load_balancer_name': lb.get('LoadBalancerName'),
                    'listener_port': port, 'domain': None, 'domain_extension_id': None}))
            for ext in api.domain_extensions(lb_id, port):
                if ext.get('ServerCertificateId'):
                    found.append((ext['ServerCertificateId'], {
                        'load_balancer_id': lb_id, 'load_balancer_name': lb.get('LoadBalancerName'),
                        'listener_port': port, 'domain': ext['Domain'],
                        'domain_extension_id': ext['DomainExtensionId']}))
        return found

    for outcome in run_parallel(scan, lbs, concurrency):
        if not outcome.ok:
            raise outcome.error
        for cert_id, user in outcome.value:
            usage.setdefault(cert_id, []).append(user)
    return usage


def _parse_time(value):
    if not value:
        return None
    for fmt in ('%Y-%m-%dT%H:%M:%SZ', '%Y-%m-%dT%H:%MZ', '%Y-%m-%dT%H:%M:%S.%fZ'):
        try:
            return datetime.datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def expire_datetime(cert):
    stamp = cert.get('ExpireTimeStamp')
    if stamp not in (None, ''):
        try:
            return datetime.datetime.fromtimestamp(int(stamp) / 1000.0, tz=UTC)
        except (TypeError, ValueError):
            pass
    return _parse_time(cert.get('ExpireTime'))


def describe_certificate(cert, usage=None, now=None):
    now = now or datetime.datetime.now(UTC)
    expires = expire_datetime(cert)
    sans = cert.get('SubjectAlternativeNames') or {}
    if isinstance(sans, dict):
        sans = sans.get('SubjectAlternativeName') or []
    tags = [{'key': t.get('TagKey'), 'value': t.get('TagValue')} for t in _items(cert, 'Tags', 'Tag')]
    return {
        'server_certificate_id': cert['ServerCertificateId'],
        'name': cert.get('ServerCertificateName'),
        'fingerprint': cert['Fingerprint'],
        'common_name': cert.get('CommonName'),
        'subject_alternative_names': list(sans),
        'expire_time': cert.get('ExpireTime'),
        'expire_timestamp': cert.get('ExpireTimeStamp'),
        'days_remaining': None if expires is None else int((expires - now).total_seconds() // 86400),
        'create_time': cert.get('CreateTime'),
        'region_id': cert.get('RegionId'),
        'resource_group_id': cert.get('ResourceGroupId'),
        'tags': tags,
        'used_by': list((usage or {}).get(cert['ServerCertificateId'], [])),
    }


def plan_prune(certs, usage, name_prefix, keep, protect_ids):
    """Which certificates ``prune`` would delete.

    Among the certificates whose name starts with ``name_prefix``, the ``keep`` newest
    (by expiry, then upload time) stay, in use or not; of the others, every one that no
    listener or domain extension uses and that is not in ``protect_ids`` goes.
    """
    candidates = [c for c in certs if (c.get('ServerCertificateName') or '').startswith(name_prefix)]

    def newest_first(cert):
        expires = expire_datetime(cert)
        created = cert.get('CreateTimeStamp') or 0
        return (expires.timestamp() if expires else 0, int(created or 0))

    candidates.sort(key=newest_first, reverse=True)
    delete = []
    for index, cert in enumerate(candidates):
        cid = cert['ServerCertificateId']
        if index < keep or cid in protect_ids or usage.get(cid):
            continue
        delete.append(cert)
    return delete


def prune(api, certs, usage, name_prefix, keep, protect_ids, check_mode=False):
    """Delete what ``plan_prune`` picks. In-use certificates are skipped, also when the API says so late."""
    deleted, skipped = [], []
    for cert in plan_prune(certs, usage, name_prefix, keep, protect_ids):
        cid = cert['ServerCertificateId']
        if check_mode:
            deleted.append(cid)
            continue
        try:
            api.delete(cid)
            deleted.append(cid)
        except AlicloudApiError as exc:
            if exc.code in ('CertificateAndPrivateKeyIsRefered', 'CertificateRelatedDomainExtensionExist'):
                skipped.append({'server_certificate_id': cid, 'reason': exc.code})
                continue
            raise
    return deleted, skipped
