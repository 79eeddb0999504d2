# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Huawei Cloud Certificate Manager (CCM, API name SCM v3): list certificates, export one, import it.

* ``ListCertificates``: ``GET /v3/scm/certificates`` with ``limit`` (10, 20 or 50), ``offset``,
  ``status`` and ``content`` (a search by certificate name or bound domain); answers
  ``{"certificates": [CertificateDetail...], "total_count": n}``. Paged here, bounded by ``max_pages``.
* ``ExportCertificate``: ``POST /v3/scm/certificates/{certificate_id}/export``; answers
  ``certificate``, ``certificate_chain``, ``private_key`` (and ``entire_certificate``).

The exported private key goes straight to the store import (``sources.importer.Importer``) as PEM
text and is never part of a result or a message.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import re

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.huaweicloud.client import HuaweiApiError, path_segment

PAGE_LIMIT = 50
DEFAULT_MAX_PAGES = 20
# Statuses whose certificate (and key) can be exported: issued by CCM, or uploaded to it.
EXPORTABLE = ('ISSUED', 'UPLOAD')
STATUSES = ('ALL', 'PAID', 'ISSUED', 'CHECKING', 'CANCELCHECKING', 'UNPASSED', 'EXPIRED', 'REVOKING',
            'REVOKED', 'UPLOAD', 'CHECKING_ORG', 'ISSUING', 'SUPPLEMENTCHECKING')
CERTIFICATE_ID_RE = re.compile(r'^[A-Za-z0-9_-]{1,64}$')
# CertificateDetail fields returned by the module (all of them are plain metadata, no secret).
DETAIL_FIELDS = ('id', 'name', 'domain', 'sans', 'status', 'expire_time', 'type', 'brand', 'signature_algorithm',
                 'domain_type', 'validity_period', 'domain_count', 'wildcard_count', 'deploy_support',
                 'description', 'enterprise_project_id')


def source_of(certificate_id):
    """What ``issuer.json`` records as the source of an imported CCM certificate."""
    return 'Huawei Cloud CCM %s' % certificate_id


def parse_expire_time(value):
    """A UTC ``datetime`` from ``expire_time`` (``2026-05-29 07:59:59.0``, ISO 8601, or epoch ms), or None."""
    if value is None or value == '':
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        seconds = float(value)
        seconds = seconds / 1000.0 if seconds > 1e11 else seconds
        try:
            return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    text = str(value).strip().replace('T', ' ').rstrip('Z')
    text = re.sub(r'\.\d+$', '', text)
    try:
        return datetime.datetime.strptime(text, '%Y-%m-%d %H:%M:%S').replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def detail(item):
    """The public fields of one CertificateDetail."""
    return dict((k, item.get(k)) for k in DETAIL_FIELDS)


def names_of(item):
    """The domain and the additional domains (``sans``, ``;`` or ``,`` separated) of a CertificateDetail."""
    names = [item.get('domain')] if item.get('domain') else []
    names += [n.strip() for n in re.split(r'[;,\s]+', item.get('sans') or '') if n.strip()]
    return names


def matches(item, name=None, domain=None, status=None):
    if name and item.get('name') != name:
        return False
    if domain and domain.lower() not in [n.lower() for n in names_of(item)]:
        return False
    if status and status != 'ALL' and item.get('status') != status:
        return False
    return True


def pick(candidates, what):
    """The exportable certificate among ``candidates`` that expires last (the renewed one), or an error."""
    usable = [c for c in candidates if c.get('status') in EXPORTABLE]
    if not usable:
        if not candidates:
            raise CertpilotError('no certificate in Huawei Cloud CCM matches %s' % what)
        raise CertpilotError('no certificate matching %s is issued yet in Huawei Cloud CCM (%s)' % (
            what, ', '.join('%s is %s' % (c.get('id'), c.get('status')) for c in candidates)))
    far_past = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return sorted(usable, key=lambda c: (parse_expire_time(c.get('expire_time')) or far_past, c.get('id') or ''))[-1]


class CcmApi:
    """The CCM calls this collection makes, on a ``HuaweiClient``."""

    def __init__(self, client, max_pages=DEFAULT_MAX_PAGES):
        self.client = client
        self.max_pages = max(1, int(max_pages))

    def list_certificates(self, content=None, status=None):
        """Every certificate of the search (all pages, at most ``max_pages``): a list of CertificateDetail dicts."""
        found, offset = [], 0
        for _page in range(self.max_pages):
            data = self.client.request('GET', '/v3/scm/certificates', query=[
                ('limit', PAGE_LIMIT), ('offset', offset), ('status', status if status and status != 'ALL' else None),
                ('content', content or None)], what='ListCertificates')
            page = data.get('certificates')
            if not isinstance(page, list):
                raise CertpilotError('Huawei Cloud ListCertificates answered without a certificates list')
            found.extend(c for c in page if isinstance(c, dict))
            total = data.get('total_count')
            offset += len(page)
            if not page or len(page) < PAGE_LIMIT or (isinstance(total, int) and offset >= total):
                return found
        raise CertpilotError('Huawei Cloud CCM holds more than %d certificates for this search (max_pages=%d '
                             'pages of %d); narrow it with a name, domain or status' % (len(found), self.max_pages,
                                                                                        PAGE_LIMIT))

    def find(self, certificate_id=None, name=None, domain=None, status=None):
        """Certificates matching exactly (the search itself is fuzzy)."""
        if certificate_id:
            return [c for c in self.list_certificates() if c.get('id') == certificate_id]
        found = self.list_certificates(content=name or domain, status=status)
        return [c for c in found if matches(c, name, domain, status)]

    def export(self, certificate_id):
        """(certificate PEM, chain PEM, private key PEM) of ``certificate_id``."""
        if not CERTIFICATE_ID_RE.match(certificate_id or ''):
            raise CertpilotError('%r is not a CCM certificate id' % (certificate_id,))
        data = self.client.request('POST', '/v3/scm/certificates/%s/export' % path_segment(certificate_id),
                                   what='ExportCertificate %s' % certificate_id)
        cert, chain, key = (data.get(k) for k in ('certificate', 'certificate_chain', 'private_key'))
        if not cert and data.get('enc_certificate'):
            raise CertpilotError('Huawei Cloud CCM certificate %s is an SM2 (dual) certificate; only RSA and ECDSA '
                                 'certificates can be imported' % certificate_id)
        if not isinstance(cert, str) or 'BEGIN CERTIFICATE' not in cert:
            raise CertpilotError('Huawei Cloud ExportCertificate %s returned no certificate' % certificate_id)
        if not isinstance(key, str) or 'PRIVATE KEY' not in key:
            raise CertpilotError('Huawei Cloud ExportCertificate %s returned no private key (a certificate whose '
                                 'CSR was made outside CCM cannot be exported with its key)' % certificate_id)
        return cert, chain if isinstance(chain, str) else '', key


def _what(item):
    parts = ['%s=%s' % (k, item[k]) for k in ('certificate_name', 'domain') if item.get(k)]
    return ', '.join(parts) or 'nothing'


def resolve(api, item, status=None):
    """(certificate id, CertificateDetail or None) for one ``certificates`` entry of the module."""
    certificate_id = item.get('certificate_id')
    if certificate_id:
        return certificate_id, None
    if not item.get('certificate_name') and not item.get('domain'):
        raise CertpilotError('give certificate_id, certificate_name or domain')
    chosen = pick(api.find(name=item.get('certificate_name'), domain=item.get('domain'), status=status),
                  _what(item))
    return chosen['id'], chosen


def import_all(api, importer, items, list_only=False, log=None):
    """Resolve, export and import each entry of ``items``; one failure never stops the others.

    Returns (results by store name in input order, failed names, private keys seen) where a result is
    the importer's plus ``ccm`` (certificate id and the CCM metadata known). ``private keys seen`` is for
    the caller to mask (``no_log_values``); it never goes into a result.
    """
    results, failed, secrets = {}, [], []
    for item in items:
        name = item.get('name')
        out = {'name': name, 'ccm': None}
        try:
            if name in results:
                raise CertpilotError('the name %s is given twice' % name)
            certificate_id, found = resolve(api, item)
            if found is None and list_only:
                found = next(iter(api.find(certificate_id=certificate_id)), None)
                if found is None:
                    raise CertpilotError('no certificate with id %s in Huawei Cloud CCM' % certificate_id)
            out['ccm'] = dict(detail(found) if found else {}, id=certificate_id)
            if list_only:
                out.update(action='found', changed=False)
                results[name] = out
                continue
            cert, chain, key = api.export(certificate_id)
            secrets.append(key)
            domains = list(item.get('domains') or []) or ([item['domain']] if item.get('domain') else [])
            spec = {'name': name, 'source': source_of(certificate_id), 'domains': domains,
                    'pem_content': [p for p in (cert, chain, key) if p and p.strip()]}
            one, bad = importer.run([spec])
            result = one[name]
            if bad:
                raise CertpilotError('Huawei Cloud CCM certificate %s: %s' % (certificate_id, result['msg']))
            out.update(result)
            if log:
                log('%s: %s from Huawei Cloud CCM %s' % (name, result['action'], certificate_id))
        except HuaweiApiError as exc:
            if exc.http_status == 401:
                raise  # the credentials are refused: every other call would be too
            out.update(action='failed', changed=False, msg=exc.msg, error_code=exc.error_code, request_id=exc.request_id)
        except CertpilotError as exc:
            out.update(action='failed', changed=False, msg=exc.msg)
        if out.get('action') == 'failed':
            failed.append(str(name))
        results.setdefault(str(name), out)
    return results, failed, secrets
