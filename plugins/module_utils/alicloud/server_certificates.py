# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLB server certificates: upload idempotently by fingerprint, remove, prune, describe (plain functions)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import pem as pemlib
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import slb
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.errors import AlicloudApiError
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError

NAME_RE = re.compile(r'^[A-Za-z][A-Za-z0-9._-]{0,79}$')


def _cert_view(cert):
    return {'server_certificate_id': cert['ServerCertificateId'], 'name': cert.get('ServerCertificateName'),
            'fingerprint': cert['Fingerprint'], 'expire_time': cert.get('ExpireTime')}


def ensure_certificate(api, cert_data, key_data, name=None, resource_group_id=None, tags=None, prune=None,
                       check_mode=False):
    """Upload unless a certificate with the same SHA-1 fingerprint already exists in the region."""
    prepared = pemlib.prepare(cert_data, key_data)
    if name:
        if not NAME_RE.match(name):
            raise CertpilotError('name %r does not follow the SLB rules: 1-80 characters, starting with a letter, '
                                 'then letters, digits, ".", "_" or "-"' % name)
    else:
        name = pemlib.default_name(prepared.leaf)
    certs = api.server_certificates()
    before = sorted((_cert_view(c) for c in certs), key=lambda c: c['server_certificate_id'])
    same = [c for c in certs if c['Fingerprint'] == prepared.fingerprint]
    same.sort(key=lambda c: (c.get('ServerCertificateName') != name, c['ServerCertificateId']))
    result = {'changed': False, 'name': name, 'fingerprint': prepared.fingerprint,
              'expire_time': prepared.expire_time, 'certificate': prepared.summary(), 'deleted': [],
              'prune_skipped': [], 'uploaded': False}
    if same:
        current = same[0]
        result.update(server_certificate_id=current['ServerCertificateId'],
                      name=current.get('ServerCertificateName') or name)
    elif check_mode:
        result.update(changed=True, uploaded=True, server_certificate_id=None)
        current = None
    else:
        uploaded = api.upload(prepared.cert_pem, prepared.key_pem, name, resource_group_id, tags)
        if uploaded['Fingerprint'].lower() != prepared.fingerprint:
            raise CertpilotError('The API stored fingerprint %s for the upload, expected %s'
                                 % (uploaded['Fingerprint'], prepared.fingerprint),
                                 server_certificate_id=uploaded['ServerCertificateId'])
        current = uploaded
        certs.append(dict(uploaded, CreateTimeStamp=uploaded.get('CreateTimeStamp') or 0))
        result.update(changed=True, uploaded=True, server_certificate_id=uploaded['ServerCertificateId'])
    if prune:
        usage = slb.certificate_usage(api)
        protect = set([result['server_certificate_id']]) if result['server_certificate_id'] else set()
        if current is None:  # check mode upload: the would-be new one is the newest
            certs.append({'ServerCertificateId': '(new)', 'ServerCertificateName': name, 'Fingerprint': prepared.fingerprint,
                          'ExpireTimeStamp': int(prepared.not_after.timestamp() * 1000), 'CreateTimeStamp': 2 ** 62})
            protect.add('(new)')
        deleted, skipped = slb.prune(api, certs, usage, prune['name_prefix'], int(prune.get('keep') or 0), protect,
                                     check_mode=check_mode)
        result['deleted'] = deleted
        result['prune_skipped'] = skipped
        if deleted:
            result['changed'] = True
    after = [c for c in before if c['server_certificate_id'] not in result['deleted']]
    if result['uploaded']:
        after.append({'server_certificate_id': result['server_certificate_id'] or '(new)', 'name': name,
                      'fingerprint': prepared.fingerprint, 'expire_time': prepared.expire_time})
    result['diff'] = {'before': {'server_certificates': before},
                      'after': {'server_certificates': sorted(after, key=lambda c: c['server_certificate_id'])}}
    return result


def remove_certificates(api, server_certificate_id=None, name=None, cert_data=None, check_mode=False):
    """Delete by id, by exact name, or by the fingerprint of a given certificate. In-use ones -> clear error."""
    certs = api.server_certificates()
    if server_certificate_id:
        targets = [c for c in certs if c['ServerCertificateId'] == server_certificate_id]
    elif cert_data:
        fp = pemlib.fingerprint_sha1(pemlib.load_certificates(cert_data)[0])
        targets = [c for c in certs if c['Fingerprint'] == fp]
    elif name:
        targets = [c for c in certs if c.get('ServerCertificateName') == name]
    else:
        raise CertpilotError('state=absent needs server_certificate_id, name, or certificate/certificate_src')
    deleted = []
    for cert in targets:
        if not check_mode:
            try:
                api.delete(cert['ServerCertificateId'])
            except AlicloudApiError as exc:
                if exc.code in ('CertificateAndPrivateKeyIsRefered', 'CertificateRelatedDomainExtensionExist'):
                    raise CertpilotError('Server certificate %s is still in use by a listener or a domain extension '
                                         '(%s); switch those to another certificate first'
                                         % (cert['ServerCertificateId'], exc.code), deleted=deleted,
                                         error_code=exc.code, request_id=exc.request_id)
                raise
        deleted.append(cert['ServerCertificateId'])
    before = [_cert_view(c) for c in certs]
    return {'changed': bool(deleted), 'deleted': deleted,
            'server_certificate_id': server_certificate_id or (targets[0]['ServerCertificateId'] if targets else None),
            'diff': {'before': {'server_certificates': before},
                     'after': {'server_certificates': [c for c in before if c['server_certificate_id'] not in deleted]}}}


def certificate_info(api, certificate_id=None, name_prefix=None, include_usage=True, concurrency=4):
    certs = api.server_certificates(certificate_id=certificate_id)
    if name_prefix:
        certs = [c for c in certs if (c.get('ServerCertificateName') or '').startswith(name_prefix)]
    usage = slb.certificate_usage(api, concurrency) if include_usage else {}
    described = [slb.describe_certificate(c, usage) for c in certs]
    described.sort(key=lambda c: (c['days_remaining'] is None, c['days_remaining'], c['server_certificate_id']))
    return described
