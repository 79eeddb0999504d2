# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CDN (API 2018-05-10): the HTTPS certificate of accelerated domains.

``SetCdnDomainSSLCertificate`` sets one domain per call, either a Certificate Management Service (CAS)
certificate by id (``CertType=cas``, ``CertId``, ``CertRegion``) or an upload (``CertType=upload``,
``SSLPub``/``SSLPri``); ``DescribeDomainCertificateInfo`` reads a domain's certificate back, including the
served certificate itself (``ServerCertificate``), which is how an upload is recognised (by SHA-256).

Every answer is validated (types, sizes) before it is used. Plain functions on top of
``RpcClient(product='cdn')``; no AnsibleModule here.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import time

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import pem as pemlib
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.errors import failure_entry
from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509lib
from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.parallel import run_parallel

CAS_REGIONS = ('cn-hangzhou', 'ap-southeast-1')
MAX_TEXT = 1024
MAX_PEM = 64 * 1024
MAX_ENTRIES = 16
DOMAIN_RE = re.compile(r'^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9][a-z0-9-]{0,62}$')
TOKEN_RE = re.compile(r'^[A-Za-z0-9_.-]{0,64}$')
SUMMARY_KEYS = ('ssl_protocol', 'certificate_type', 'certificate_id', 'certificate_region', 'certificate_name',
                'fingerprint_sha256', 'common_name', 'issuer', 'start_time', 'expire_time', 'update_time', 'status')


def _bad(what):
    return CertpilotError('Unexpected API answer: DescribeDomainCertificateInfo %s' % what)


def _text(entry, field, limit=MAX_TEXT):
    value = entry.get(field)
    if value is None or value == '':
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise _bad('field %s is a %s, not a string' % (field, type(value).__name__))
    if len(value) > limit:
        raise _bad('field %s is %d characters long (at most %d)' % (field, len(value), limit))
    return value


def _token(entry, field):
    value = _text(entry, field)
    if value is not None and not TOKEN_RE.match(value):
        raise _bad('field %s has an unexpected value %r' % (field, value[:64]))
    return value


def normalize_domain(name):
    text = str(name or '').strip().lower().rstrip('.')
    if not DOMAIN_RE.match(text) or len(text) > 253:
        raise CertpilotError('%r is not a valid CDN domain name' % str(name)[:80])
    return text


def parse_certificate_info(data, domain):
    """A ``DescribeDomainCertificateInfo`` answer -> the certificate state of ``domain`` (validated, our names)."""
    if not isinstance(data, dict):
        raise _bad('is not a JSON object')
    infos = data.get('CertInfos')
    if isinstance(infos, dict):
        infos = infos.get('CertInfo')
    if infos is None:
        infos = []
    if not isinstance(infos, list) or len(infos) > MAX_ENTRIES:
        raise _bad('CertInfos is not a list of at most %d entries' % MAX_ENTRIES)
    if not all(isinstance(e, dict) for e in infos):
        raise _bad('CertInfos holds a non-object entry')
    mine = [e for e in infos if (_text(e, 'DomainName') or domain).lower().rstrip('.') == domain]
    state = dict((k, None) for k in SUMMARY_KEYS)
    state.update(domain_name=domain, ssl_protocol='off')
    if not mine:
        return state
    entry = mine[0]
    ssl = (_token(entry, 'ServerCertificateStatus') or _token(entry, 'SSLProtocol') or 'off').lower()
    if ssl not in ('on', 'off'):
        raise _bad('ServerCertificateStatus is %r, not on or off' % ssl)
    cert_id = _text(entry, 'CertId')
    if cert_id is not None and not cert_id.isdigit():
        raise _bad('CertId %r is not a number' % cert_id[:32])
    served = _text(entry, 'ServerCertificate', MAX_PEM)
    fingerprint = common_name = None
    if served:
        try:
            leaf = x509lib.load_certificates(served, what='the served certificate')[0]
        except CertpilotError:
            raise _bad('ServerCertificate is not a PEM certificate')
        fingerprint = x509lib.fingerprint_sha256(leaf)
        common_name = pemlib.common_name(leaf)
    state.update(
        ssl_protocol=ssl,
        certificate_type=(_token(entry, 'CertType') or '').lower() or None,
        certificate_id=cert_id,
        certificate_region=_token(entry, 'CertRegion'),
        certificate_name=_text(entry, 'CertName'),
        fingerprint_sha256=fingerprint,
        common_name=common_name or _text(entry, 'CertDomainName'),
        issuer=_text(entry, 'CertOrg'),
        start_time=_text(entry, 'CertStartTime'),
        expire_time=_text(entry, 'CertExpireTime'),
        update_time=_text(entry, 'CertUpdateTime'),
        status=_token(entry, 'Status'),
    )
    return state


def summary(state):
    return dict((k, (state or {}).get(k)) for k in SUMMARY_KEYS)


class CdnApi:
    def __init__(self, client, sleep=time.sleep, clock=time.monotonic):
        self.client = client
        self.sleep = sleep
        self.clock = clock

    def certificate_info(self, domain):
        return parse_certificate_info(self.client.call('DescribeDomainCertificateInfo', {'DomainName': domain}), domain)

    def set_certificate(self, params):
        return self.client.call('SetCdnDomainSSLCertificate', params)


def wanted_state(spec):
    """What one ``domains`` item asks for: ``(wanted, call parameters)``; the parameters hold the private key."""
    domain = normalize_domain(spec.get('domain_name'))
    ssl = spec.get('ssl_protocol') or 'on'
    if ssl not in ('on', 'off'):
        raise CertpilotError('ssl_protocol must be on or off, got %r' % ssl)
    cert_data = pemlib.read_material(spec.get('certificate'), spec.get('certificate_src'), 'certificate')
    key_data = pemlib.read_material(spec.get('private_key'), spec.get('private_key_src'), 'private key')
    cert_id = spec.get('certificate_id')
    cert_id = None if cert_id in (None, '') else str(cert_id).strip()
    params = {'DomainName': domain, 'SSLProtocol': ssl}
    if ssl == 'off':
        if cert_id or cert_data or key_data:
            raise CertpilotError('%s: ssl_protocol off takes no certificate' % domain)
        return {'domain_name': domain, 'ssl_protocol': 'off'}, params
    if cert_id and (cert_data or key_data):
        raise CertpilotError('%s: give either certificate_id (CAS) or certificate + private_key (upload), not both' % domain)
    if cert_id:
        head = cert_id.split('-', 1)[0]  # the ALB form <CertId>-<region> is taken too
        if not head.isdigit():
            raise CertpilotError('%s: certificate_id %r is not a CAS certificate id' % (domain, cert_id))
        region = spec.get('certificate_region') or 'cn-hangzhou'
        if region not in CAS_REGIONS:
            raise CertpilotError('%s: certificate_region must be one of %s, got %r' % (domain, ', '.join(CAS_REGIONS), region))
        params.update(CertType='cas', CertId=head, CertRegion=region)
        return {'domain_name': domain, 'ssl_protocol': 'on', 'certificate_type': 'cas', 'certificate_id': head,
                'certificate_region': region}, params
    if not cert_data or not key_data:
        raise CertpilotError('%s: needs certificate_id, or certificate (or certificate_src) and private_key '
                             '(or private_key_src), or ssl_protocol off' % domain)
    # CDN takes RSA and ECDSA certificates, like CAS: the same validation and normalisation.
    prepared = pemlib.prepare_cas(cert_data, key_data)
    name = spec.get('certificate_name') or pemlib.cas_default_name(prepared.leaf)
    if len(name) > pemlib.CAS_NAME_MAX or not name.strip():
        raise CertpilotError('%s: certificate_name must be 1-%d characters' % (domain, pemlib.CAS_NAME_MAX))
    params.update(CertType='upload', CertName=name, SSLPub=prepared.cert_pem, SSLPri=prepared.key_pem)
    return {'domain_name': domain, 'ssl_protocol': 'on', 'certificate_type': 'upload', 'certificate_name': name,
            'fingerprint_sha256': x509lib.fingerprint_sha256(prepared.leaf), 'common_name': prepared.common_name,
            'expire_time': prepared.expire_time, 'key_type': prepared.key_type}, params


def serves(state, wanted):
    """Whether the read-back ``state`` is what ``wanted`` asks for."""
    if wanted['ssl_protocol'] == 'off':
        return state.get('ssl_protocol') == 'off'
    if state.get('ssl_protocol') != 'on':
        return False
    if wanted['certificate_type'] == 'cas':
        same_id = state.get('certificate_type') == 'cas' and state.get('certificate_id') == wanted['certificate_id']
        return same_id and state.get('certificate_region') in (None, wanted['certificate_region'])
    return bool(state.get('fingerprint_sha256')) and state['fingerprint_sha256'] == wanted['fingerprint_sha256']


def _predicted(wanted):
    out = dict((k, None) for k in SUMMARY_KEYS)
    out.update((k, v) for k, v in wanted.items() if k in SUMMARY_KEYS)
    return out


def ensure_domain(api, spec, check_mode=False, wait_timeout=120, deadline=None):
    """Bring one domain to ``spec``; change it only when it does not serve that already; read it back."""
    wanted, params = wanted_state(spec)
    domain = wanted['domain_name']
    before = api.certificate_info(domain)
    result = {'domain_name': domain, 'changed': False, 'previous': summary(before), 'current': summary(before),
              'verified': False, 'dry_run': bool(check_mode)}
    if serves(before, wanted):
        result['verified'] = True
        return result
    result['changed'] = True
    if check_mode:
        result['current'] = _predicted(wanted)
        return result
    api.set_certificate(params)
    limit = Deadline(wait_timeout, clock=api.clock, sleep=api.sleep)
    delay = 0.2
    while True:
        after = api.certificate_info(domain)
        if serves(after, wanted):
            break
        left = min(limit.remaining(), deadline.remaining() if deadline else float('inf'))
        if left <= delay:
            raise CertpilotError('CDN domain %s does not show the requested certificate %s after the change (within %ss): '
                                 'it shows %s' % (domain, _label(wanted), wait_timeout, _label(after)),
                                 domain_name=domain, previous=summary(before), current=summary(after))
        api.sleep(delay)
        delay = min(delay * 1.5, 3.0)
    result.update(current=summary(after), verified=True)
    return result


def _label(state):
    if state.get('ssl_protocol') != 'on':
        return 'HTTPS off'
    if state.get('certificate_type') == 'cas':
        return 'CAS %s' % state.get('certificate_id')
    return '%s %s (SHA-256 %s)' % (state.get('certificate_type') or 'certificate', state.get('certificate_name') or '',
                                   (state.get('fingerprint_sha256') or '-')[:16])


def ensure_domains(api, specs, check_mode=False, concurrency=4, wait_timeout=120, deadline=None):
    """Bulk: every domain independently (bounded concurrency); failures are named with code and RequestId."""
    names = [str(s.get('domain_name') or '').strip().lower().rstrip('.') for s in specs]
    twice = sorted(set(n for n in names if names.count(n) > 1))
    if twice:
        raise CertpilotError('domains lists %s more than once' % ', '.join(twice))
    outcomes = run_parallel(lambda spec: ensure_domain(api, spec, check_mode, wait_timeout, deadline), specs,
                            concurrency, label=lambda spec: spec.get('domain_name'))
    results, failed = [], []
    for spec, outcome in zip(specs, outcomes):
        if outcome.ok:
            results.append(outcome.value)
            continue
        entry = failure_entry(outcome.error, domain_name=spec.get('domain_name'))
        for key in ('previous', 'current'):  # a change that did not show: what to roll back to, what is there
            if key in getattr(outcome.error, 'details', {}):
                entry[key] = outcome.error.details[key]
        failed.append(entry)
        results.append(dict(entry, failed=True, changed=False))
    ok = [r for r in results if not r.get('failed')]
    return {'changed': any(r.get('changed') for r in results), 'results': results, 'failed_items': failed,
            'diff': {'before': {'cdn_domains': dict((r['domain_name'], r['previous']) for r in ok)},
                     'after': {'cdn_domains': dict((r['domain_name'], r['current']) for r in ok)}}}
