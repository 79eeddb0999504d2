# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificate Management Service (CAS, API 2020-04-07): upload idempotently by SHA-256, describe, prune.

Plain functions on top of ``RpcClient(product='cas')``; no AnsibleModule here.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import re
import uuid

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import pem as pemlib
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.errors import AlicloudApiError
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.parallel import run_parallel
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import UTC

PAGE_SIZE = 100
MAX_PAGES = 1000
NAME_RE = re.compile(r'^[^\s].{0,63}$')


def norm_fingerprint(value):
    """``AB:CD..`` / ``abcd..`` -> ``abcd..`` (lowercase hex, no separators)."""
    return re.sub(r'[^0-9a-f]', '', str(value or '').lower())


def client_token():
    """One token per logical call; the client's retries of that call resend the same one."""
    return str(uuid.uuid4())


def _ms_to_iso(value):
    try:
        return datetime.datetime.fromtimestamp(int(value) / 1000.0, tz=UTC).strftime('%Y-%m-%dT%H:%M:%SZ')
    except (TypeError, ValueError):
        return None


class CasApi:
    def __init__(self, client):
        self.client = client

    @property
    def region(self):
        return self.client.region

    def uploaded(self, keyword=None):
        """Every uploaded certificate (``ListUserCertificateOrder``, ``OrderType=UPLOAD``, all pages)."""
        found, page = [], 1
        while page <= MAX_PAGES:
            data = self.client.call('ListUserCertificateOrder', {
                'OrderType': 'UPLOAD', 'CurrentPage': page, 'ShowSize': PAGE_SIZE, 'Keyword': keyword})
            batch = data.get('CertificateOrderList') or []
            for item in batch:
                if item.get('CertificateId') in (None, ''):
                    raise CertpilotError('Unexpected API answer: a CertificateOrderList entry lacks CertificateId')
            found.extend(batch)
            total = int(data.get('TotalCount') or 0)
            if not batch or len(found) >= total:
                break
            page += 1
        return found

    def detail(self, cert_id):
        """``GetUserCertificateDetail`` with ``CertFilter=true``: never the certificate body or the key."""
        return self.client.call('GetUserCertificateDetail', {'CertId': cert_id, 'CertFilter': 'true'})

    def upload(self, name, cert_pem, key_pem, token=None):
        data = self.client.call('UploadUserCertificate', {'Name': name, 'Cert': cert_pem, 'Key': key_pem,
                                                          'ClientToken': token or client_token()})
        if data.get('CertId') in (None, ''):
            raise CertpilotError('Unexpected API answer: UploadUserCertificate returned no CertId')
        return data

    def delete(self, cert_id, token=None):
        return self.client.call('DeleteUserCertificate', {'CertId': cert_id, 'ClientToken': token or client_token()})

    def usage(self, cert_ids=None):
        """``{cert id (str): [cloud resources using it]}`` from ``ListCloudResources``."""
        usage, page = {}, 1
        ids = None if cert_ids is None else json.dumps([int(c) for c in cert_ids])
        if ids == '[]':
            return usage
        seen = 0
        while page <= MAX_PAGES:
            data = self.client.call('ListCloudResources', {'CertIds': ids, 'CurrentPage': page, 'ShowSize': PAGE_SIZE})
            rows = data.get('Data') or []
            for row in rows:
                usage.setdefault(str(row.get('CertId')), []).append({
                    'cloud_product': row.get('CloudProduct'), 'instance_id': row.get('InstanceId'),
                    'listener_id': row.get('ListenerId'), 'listener_port': row.get('ListenerPort'),
                    'region_id': row.get('RegionId'), 'domain': row.get('Domain'),
                    'default': bool(row.get('DefaultResource'))})
            seen += len(rows)
            if not rows or seen >= int(data.get('Total') or 0):
                break
            page += 1
        return usage


def alb_certificate_id(cert_id, region):
    """ALB (and NLB) name a CAS certificate ``<CertId>-<region>``."""
    text = str(cert_id).strip()
    return '%s-%s' % (text, region) if text.isdigit() else text


def describe(cert, usage=None, now=None):
    """A CAS list/detail entry -> the documented ``certificates`` element (no key material)."""
    now = now or datetime.datetime.now(UTC)
    cid = str(cert.get('CertificateId') or cert.get('Id'))
    end_ms = cert.get('CertEndTime') or cert.get('NotAfter')
    expire = _ms_to_iso(end_ms)
    days = None
    if end_ms not in (None, ''):
        days = int((datetime.datetime.fromtimestamp(int(end_ms) / 1000.0, tz=UTC) - now).total_seconds() // 86400)
    sans = cert.get('Sans') or ''
    return {
        'certificate_id': cid,
        'name': cert.get('Name'),
        'common_name': cert.get('CommonName') or cert.get('Common'),
        'subject_alternative_names': [s for s in sans.split(',') if s] if isinstance(sans, str) else list(sans),
        'fingerprint_sha256': norm_fingerprint(cert.get('Sha2')) or None,
        'fingerprint_sha1': norm_fingerprint(cert.get('Fingerprint')) or None,
        'issuer': cert.get('Issuer'),
        'start_date': cert.get('StartDate'),
        'end_date': cert.get('EndDate'),
        'expire_time': expire,
        'days_remaining': days,
        'expired': bool(cert.get('Expired')),
        'used_by': list((usage or {}).get(cid, [])),
    }


def _read_item(item):
    cert, key = item.get('certificate'), item.get('private_key')
    if not cert or not key:
        raise CertpilotError('each certificate needs certificate (or certificate_src) and private_key (or private_key_src)')
    return cert, key


def ensure_one(api, existing, item, check_mode=False):
    """Upload one certificate unless one with the same SHA-256 fingerprint is already there."""
    cert_data, key_data = _read_item(item)
    prepared = pemlib.prepare_cas(cert_data, key_data)
    sha256 = pemlib.x509lib.fingerprint_sha256(prepared.leaf)
    name = item.get('name') or pemlib.cas_default_name(prepared.leaf)
    if not NAME_RE.match(name) or len(name) > pemlib.CAS_NAME_MAX:
        raise CertpilotError('name %r is not a valid CAS certificate name: 1-64 characters, not starting with a space' % name)
    same = [c for c in existing if norm_fingerprint(c.get('Sha2')) == sha256]
    same.sort(key=lambda c: (c.get('Name') != name, int(c['CertificateId'])))
    result = {'name': name, 'fingerprint_sha256': sha256, 'expire_time': prepared.expire_time,
              'certificate': dict(prepared.summary(), key_type=prepared.key_type), 'uploaded': False, 'changed': False}
    if same:
        cid = str(same[0]['CertificateId'])
        result.update(certificate_id=cid, name=same[0].get('Name') or name)
    elif check_mode:
        result.update(certificate_id=None, uploaded=True, changed=True)
    else:
        uploaded = api.upload(name, prepared.cert_pem, prepared.key_pem)
        cid = str(uploaded['CertId'])
        stored = api.detail(cid)
        if norm_fingerprint(stored.get('Sha2')) not in ('', sha256):
            raise CertpilotError('CAS stored SHA-256 %s for the upload %s, expected %s'
                                 % (norm_fingerprint(stored.get('Sha2')), cid, sha256), certificate_id=cid)
        result.update(certificate_id=cid, uploaded=True, changed=True)
    result['alb_certificate_id'] = alb_certificate_id(result['certificate_id'], api.region) if result['certificate_id'] else None
    return result


def plan_prune(existing, usage, name_prefix, keep, protect_ids):
    """Uploads named ``name_prefix*``: keep the ``keep`` newest (by expiry, then id); of the rest, those nothing uses."""
    candidates = [c for c in existing if (c.get('Name') or '').startswith(name_prefix)]
    candidates.sort(key=lambda c: (int(c.get('CertEndTime') or 0), int(c['CertificateId'])), reverse=True)
    out = []
    for index, cert in enumerate(candidates):
        cid = str(cert['CertificateId'])
        if index < keep or cid in protect_ids or usage.get(cid):
            continue
        out.append(cert)
    return out


def prune(api, existing, name_prefix, keep, protect_ids, check_mode=False):
    """Delete what :func:`plan_prune` picks; a refusal by CAS (e.g. in use after all) is reported, never fatal."""
    real = [c['CertificateId'] for c in existing if int(c['CertificateId']) >= 0]
    usage = api.usage(real) if real else {}
    deleted, skipped = [], []
    for cert in plan_prune(existing, usage, name_prefix, keep, protect_ids):
        cid = str(cert['CertificateId'])
        if check_mode:
            deleted.append(cid)
            continue
        try:
            api.delete(cid)
            deleted.append(cid)
        except AlicloudApiError as exc:
            skipped.append({'certificate_id': cid, 'reason': exc.code, 'request_id': exc.request_id})
    return deleted, skipped


def ensure_certificates(api, items, prune_spec=None, check_mode=False, concurrency=4):
    """Bulk upload: every item independently (bounded concurrency); failures are named, never lose the others."""
    existing = api.uploaded()
    before = sorted(({'certificate_id': str(c['CertificateId']), 'name': c.get('Name'),
                      'fingerprint_sha256': norm_fingerprint(c.get('Sha2'))} for c in existing),
                    key=lambda c: int(c['certificate_id']))
    outcomes = run_parallel(lambda item: ensure_one(api, existing, item, check_mode), items, concurrency,
                            label=lambda item: item.get('name') or 'certificate')
    results, failed = [], []
    for index, outcome in enumerate(outcomes):
        if outcome.ok:
            results.append(outcome.value)
            continue
        err = outcome.error
        msg = err.msg if isinstance(err, CertpilotError) else '%s: %s' % (type(err).__name__, err)
        entry = {'index': index, 'name': items[index].get('name'), 'msg': msg}
        if isinstance(err, AlicloudApiError):
            entry.update(error_code=err.code, request_id=err.request_id)
        failed.append(entry)
        results.append(dict(entry, failed=True, changed=False))
    deleted, skipped = [], []
    if prune_spec and not failed:
        fresh = api.uploaded() if not check_mode else list(existing)
        protect = set(r['certificate_id'] for r in results if r.get('certificate_id'))
        if check_mode:  # the would-be uploads count as the newest candidates
            for number, res in enumerate(r for r in results if r.get('uploaded')):
                fresh.append({'CertificateId': str(-1 - number), 'Name': res['name'], 'CertEndTime': 2 ** 62})
                protect.add(str(-1 - number))
        deleted, skipped = prune(api, fresh, prune_spec['name_prefix'], int(prune_spec.get('keep') or 0), protect,
                                 check_mode)
    after = [c for c in before if c['certificate_id'] not in deleted]
    for res in results:
        if res.get('uploaded'):
            after.append({'certificate_id': res['certificate_id'] or '(new)', 'name': res['name'],
                          'fingerprint_sha256': res['fingerprint_sha256']})
    return {
        'changed': any(r.get('changed') for r in results) or bool(deleted),
        'results': results, 'failed_items': failed, 'deleted': deleted, 'prune_skipped': skipped,
        'diff': {'before': {'cas_certificates': before}, 'after': {'cas_certificates': after}},
    }


def remove_certificates(api, certificate_ids, check_mode=False):
    """Delete by id. A certificate a cloud resource uses is refused by CAS: the error names its code."""
    existing = dict((str(c['CertificateId']), c) for c in api.uploaded())
    deleted = []
    for cid in [str(c) for c in certificate_ids]:
        if cid not in existing:
            continue
        if not check_mode:
            try:
                api.delete(cid)
            except AlicloudApiError as exc:
                raise CertpilotError('CAS refused to delete certificate %s: %s: %s (RequestId: %s); a certificate that a '
                                     'cloud resource (ALB listener, CDN domain...) uses cannot be deleted, switch those '
                                     'first' % (cid, exc.code, exc.message, exc.request_id),
                                     deleted=deleted, error_code=exc.code, request_id=exc.request_id)
        deleted.append(cid)
    return {'changed': bool(deleted), 'deleted': deleted}


def describe_all(api, name_prefix=None, include_usage=True):
    certs = api.uploaded()
    if name_prefix:
        certs = [c for c in certs if (c.get('Name') or '').startswith(name_prefix)]
    usage = api.usage([c['CertificateId'] for c in certs]) if include_usage and certs else {}
    out = [describe(c, usage) for c in certs]
    out.sort(key=lambda c: (c['days_remaining'] is None, c['days_remaining'], int(c['certificate_id'])))
    return out
