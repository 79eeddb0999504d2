# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Application Load Balancer (ALB, API 2020-06-16): an HTTPS listener's default and SNI certificates.

ALB changes are asynchronous: after each change the listener is ``Configuring`` until it is ``Running``
again, and additional certificates are ``Associating`` until ``Associated``. Every wait has a deadline;
every mutating call carries a ``ClientToken`` (the client's retries of that call resend the same one);
check mode sends the same calls with ``DryRun=true`` (ALB validates them and answers ``DryRunOperation``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.cas import alb_certificate_id, client_token
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.errors import AlicloudApiError, failure_entry
from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError, DeadlineExceeded
from ansible_collections.certpilot.tls.plugins.module_utils.common.parallel import run_parallel

PAGE_SIZE = 100
MAX_PAGES = 100
DRY_RUN_OK = 'DryRunOperation'


def same_certificate(a, b):
    return str(a or '').split('-', 1)[0] == str(b or '').split('-', 1)[0]


class AlbApi:
    def __init__(self, client, sleep=time.sleep, clock=time.monotonic):
        self.client = client
        self.sleep = sleep
        self.clock = clock

    @property
    def region(self):
        return self.client.region

    def listener(self, listener_id):
        data = self.client.call('GetListenerAttribute', {'ListenerId': listener_id})
        if not data.get('ListenerId'):
            raise CertpilotError('Unexpected API answer: GetListenerAttribute returned no ListenerId')
        return data

    def certificates(self, listener_id):
        """``ListListenerCertificates`` (server certificates, all pages)."""
        found, token = [], None
        for dummy in range(MAX_PAGES):
            data = self.client.call('ListListenerCertificates', {'ListenerId': listener_id, 'CertificateType': 'Server',
                                                                 'MaxResults': PAGE_SIZE, 'NextToken': token})
            found.extend(data.get('Certificates') or [])
            token = data.get('NextToken')
            if not token:
                break
        return found

    def _mutate(self, action, params, dry_run):
        params = dict(params, ClientToken=client_token())
        if dry_run:
            params['DryRun'] = 'true'
        try:
            return self.client.call(action, params)
        except AlicloudApiError as exc:
            if dry_run and exc.code == DRY_RUN_OK:
                return {'DryRun': True, 'RequestId': exc.request_id}
            raise

    def set_default(self, listener_id, certificate_id, dry_run=False):
        return self._mutate('UpdateListenerAttribute', {'ListenerId': listener_id,
                                                        'Certificates.1.CertificateId': certificate_id}, dry_run)

    def _certificate_list(self, ids):
        return dict(('Certificates.%d.CertificateId' % n, cid) for n, cid in enumerate(ids, 1))

    def associate(self, listener_id, ids, dry_run=False):
        params = dict(self._certificate_list(ids), ListenerId=listener_id)
        return self._mutate('AssociateAdditionalCertificatesWithListener', params, dry_run)

    def dissociate(self, listener_id, ids, dry_run=False):
        params = dict(self._certificate_list(ids), ListenerId=listener_id)
        return self._mutate('DissociateAdditionalCertificatesFromListener', params, dry_run)

    def wait_running(self, listener_id, timeout, deadline=None, want_associated=()):
        """Poll ``GetListenerAttribute`` (and, for ``want_associated``, ``ListListenerCertificates``) with backoff."""
        limit = Deadline(timeout, clock=self.clock, sleep=self.sleep)
        delay, polls = 0.2, 0
        while True:
            polls += 1
            status = self.listener(listener_id).get('ListenerStatus')
            pending = []
            if status == 'Running' and want_associated:
                states = dict((c.get('CertificateId'), c.get('Status')) for c in self.certificates(listener_id))
                pending = [cid for cid in want_associated
                           if not any(same_certificate(cid, k) and v == 'Associated' for k, v in states.items())]
            if status == 'Running' and not pending:
                return polls
            left = min(limit.remaining(), deadline.remaining() if deadline else float('inf'))
            if left <= delay:
                raise DeadlineExceeded('ALB listener %s was still %s%s after %ss (wait_timeout)'
                                       % (listener_id, status, ' (associating %s)' % ', '.join(pending) if pending else '',
                                          timeout), listener_id=listener_id, listener_status=status)
            self.sleep(delay)
            delay = min(delay * 1.5, 3.0)


def _norm_list(ids, region):
    out = []
    for cid in ids or []:
        full = alb_certificate_id(cid, region)
        if not any(same_certificate(full, have) for have in out):
            out.append(full)
    return out


def ensure_listener(api, spec, check_mode=False, wait=True, wait_timeout=120, deadline=None):
    """Bring one listener to ``spec``; send only what changes; return what was and what is."""
    lid = spec['listener_id']
    region = api.region
    attrs = api.listener(lid)
    if str(attrs.get('ListenerProtocol', 'HTTPS')).upper() not in ('HTTPS', 'QUIC'):
        raise CertpilotError('ALB listener %s is a %s listener; only HTTPS and QUIC listeners carry certificates'
                             % (lid, attrs.get('ListenerProtocol')), listener_id=lid)
    if wait and attrs.get('ListenerStatus') != 'Running' and not check_mode:
        api.wait_running(lid, wait_timeout, deadline)
    current = api.certificates(lid)
    default_now = next((c['CertificateId'] for c in current if c.get('IsDefault')), None)
    if default_now is None:
        default_now = next((c.get('CertificateId') for c in attrs.get('Certificates') or []), None)
    additional_now = [c['CertificateId'] for c in current if not c.get('IsDefault')]
    result = {'listener_id': lid, 'load_balancer_id': attrs.get('LoadBalancerId'), 'listener_port': attrs.get('ListenerPort'),
              'previous_default_certificate_id': default_now, 'default_certificate_id': default_now,
              'previous_additional_certificate_ids': sorted(additional_now), 'added': [], 'removed': [],
              'changed': False, 'dry_run': bool(check_mode)}
    want_default = spec.get('default_certificate_id')
    if want_default not in (None, ''):
        want_default = alb_certificate_id(want_default, region)
        if not same_certificate(want_default, default_now):
            api.set_default(lid, want_default, dry_run=check_mode)
            result.update(default_certificate_id=want_default, changed=True)
            if wait and not check_mode:
                api.wait_running(lid, wait_timeout, deadline)
    if spec.get('additional_certificate_ids') is not None:
        wanted = [c for c in _norm_list(spec['additional_certificate_ids'], region)
                  if not same_certificate(c, result['default_certificate_id'])]
        add = [c for c in wanted if not any(same_certificate(c, have) for have in additional_now)]
        remove = []
        if spec.get('additional_mode', 'merge') == 'exact':
            remove = [c for c in additional_now if not any(same_certificate(c, w) for w in wanted)]
        if add:
            api.associate(lid, add, dry_run=check_mode)
            result.update(added=add, changed=True)
            if wait and not check_mode:
                api.wait_running(lid, wait_timeout, deadline, want_associated=add)
        if remove:
            api.dissociate(lid, remove, dry_run=check_mode)
            result.update(removed=remove, changed=True)
            if wait and not check_mode:
                api.wait_running(lid, wait_timeout, deadline)
    additional = [c for c in additional_now if c not in result['removed']] + result['added']
    result['additional_certificate_ids'] = sorted(additional)
    if result['changed'] and wait and not check_mode:
        # Verify: read back what the listener now serves.
        after = api.certificates(lid)
        served_default = next((c['CertificateId'] for c in after if c.get('IsDefault')), None)
        served_extra = sorted(c['CertificateId'] for c in after if not c.get('IsDefault'))
        if not same_certificate(served_default, result['default_certificate_id']) or \
                sorted(str(c).split('-', 1)[0] for c in served_extra) != sorted(str(c).split('-', 1)[0] for c in additional):
            raise CertpilotError('ALB listener %s does not show the requested certificates after the change: default %s, '
                                 'additional %s' % (lid, served_default, ', '.join(served_extra) or '-'), listener_id=lid)
        result['verified'] = True
    return result


def ensure_listeners(api, specs, check_mode=False, wait=True, wait_timeout=120, concurrency=4, deadline=None):
    outcomes = run_parallel(lambda spec: ensure_listener(api, spec, check_mode, wait, wait_timeout, deadline), specs,
                            concurrency, label=lambda spec: spec['listener_id'])
    results, failed = [], []
    for spec, outcome in zip(specs, outcomes):
        if outcome.ok:
            results.append(outcome.value)
            continue
        entry = failure_entry(outcome.error, listener_id=spec['listener_id'])
        failed.append(entry)
        results.append(dict(entry, failed=True, changed=False))
    before = dict((r['listener_id'], {'default': r.get('previous_default_certificate_id'),
                                      'additional': r.get('previous_additional_certificate_ids')}) for r in results
                  if not r.get('failed'))
    after = dict((r['listener_id'], {'default': r.get('default_certificate_id'),
                                     'additional': r.get('additional_certificate_ids')}) for r in results
                 if not r.get('failed'))
    return {'changed': any(r.get('changed') for r in results), 'results': results, 'failed_items': failed,
            'diff': {'before': {'listeners': before}, 'after': {'listeners': after}}}
