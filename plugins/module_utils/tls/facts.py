# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``tls_expiry_facts``: probe endpoints and read certificate files, judge, summarize."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib
import time
import warnings

from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import UTC
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.parallel import run_parallel
from ansible_collections.certpilot.tls.plugins.module_utils.tls import judge
from ansible_collections.certpilot.tls.plugins.module_utils.tls.certinfo import CertCache, pem_to_ders
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import iso_z
from ansible_collections.certpilot.tls.plugins.module_utils.tls.endpoints import parse_endpoints, parse_files
from ansible_collections.certpilot.tls.plugins.module_utils.tls.names import match_hostname
from ansible_collections.certpilot.tls.plugins.module_utils.tls.probe import ProbeError, Resolver, make_context, probe
from ansible_collections.certpilot.tls.plugins.module_utils.tls.renewal_owner import imported_from, renewal_note
from ansible_collections.certpilot.tls.plugins.module_utils.tls.results import by_urgency, urgency_order
from ansible_collections.certpilot.tls.plugins.module_utils.tls.served import served_mismatch
from ansible_collections.certpilot.tls.plugins.module_utils.tls.verify import ChainVerifier, system_root_ders

CERT_FIELDS = ('days_remaining', 'remaining_ratio', 'not_before', 'not_after', 'subject', 'issuer', 'sans', 'serial',
               'fingerprint_sha256', 'key_type', 'key_bits', 'signature_algorithm', 'chain_valid', 'chain_error',
               'chain_warnings',
               'hostname_match', 'earliest_chain_expiry', 'chain', 'served_chain_sha256', 'tls_version', 'reason')


def explain(result, thresholds, not_yet_valid=False):
    """One line saying why a result has its status (None for ok)."""
    status = result['status']
    days = result.get('days_remaining')
    if status == 'error':
        return result.get('error')
    if status == 'expired':
        return 'expired %.1f days ago (%s)' % (-days, result['not_after'])
    if status == 'invalid':
        problems = []
        if not_yet_valid:
            problems.append('not valid before %s' % result['not_before'])
        if result.get('chain_valid') is False and result.get('chain_error'):
            problems.append(result['chain_error'])
        if result.get('hostname_match') is False:
            problems.append('%s does not match the certificate names (%s)' % (
                result.get('server_name'), ', '.join(result.get('sans') or []) or 'no SANs'))
        return '; '.join(problems) or 'invalid'
    if status in ('critical', 'warning'):
        limit_days = thresholds.critical_days if status == 'critical' else thresholds.warn_days
        limit_ratio = thresholds.critical_ratio if status == 'critical' else thresholds.warn_ratio
        if days < limit_days:
            return 'expires in %.1f days (< %s days)' % (days, ('%g' % limit_days))
        return 'expires in %.1f days, %.0f%% of its lifetime left (< %.0f%%)' % (
            days, 100.0 * (result.get('remaining_ratio') or 0.0), 100.0 * (limit_ratio or 0.0))
    return None


def compare_served(expect, result):
    """(match, why not) of what an endpoint served against ``expect`` (leaf and chain fingerprints, in order).

    Fails closed: no handshake, or a chain that could not be read (``leaf-only``), is a mismatch.
    """
    if result.get('status') == 'error' or not result.get('fingerprint_sha256'):
        return False, 'not verified: %s' % (result.get('error') or 'no certificate')
    if result.get('chain_source') == 'leaf-only':
        return False, 'not verified: this Python cannot read the presented chain (leaf only; Python 3.10+ needed)'
    why = served_mismatch(expect['fingerprint_sha256'], result['fingerprint_sha256'],
                          expected_chain=expect['chain_sha256'], served_chain=result.get('served_chain_sha256'))
    return why is None, why


class Options:
    def __init__(self, warn_days=21, critical_days=7, warn_ratio=None, critical_ratio=None, timeout=5.0, retries=1,
                 concurrency=64, ca_bundle=None, system_roots=True, fail_on='never'):
        self.thresholds = judge.Thresholds(warn_days, critical_days, warn_ratio, critical_ratio)
        if timeout is None or timeout <= 0:
            raise CertpilotError('timeout must be > 0 seconds, got %r' % (timeout,))
        if retries is None or retries < 0:
            raise CertpilotError('retries must be >= 0, got %r' % (retries,))
        if concurrency is None or concurrency < 1:
            raise CertpilotError('concurrency must be >= 1, got %r' % (concurrency,))
        if fail_on not in judge.FAIL_ON:
            raise CertpilotError('fail_on must be one of %s, got %r' % (', '.join(judge.FAIL_ON), fail_on))
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.concurrency = int(concurrency)
        self.ca_bundle = ca_bundle
        self.system_roots = system_roots
        self.fail_on = fail_on


def _read(path):
    with open(path, 'rb') as handle:
        return handle.read()


def load_roots(cache, ca_bundle=None, system_roots=True, reader=_read):
    """CertData of every trust anchor: system roots (optional) + the PEM file ``ca_bundle``."""
    roots = []
    if system_roots:
        with warnings.catch_warnings():
            # Some distribution roots have non-positive serials: cryptography warns, we still trust them.
            warnings.simplefilter('ignore')
            for der in system_root_ders():
                try:
                    roots.append(cache.get(der))
                except Exception:  # noqa: BLE001 - a broken system root must not break the run
                    continue
    if ca_bundle:
        try:
            data = reader(ca_bundle)
        except (IOError, OSError) as exc:
            raise CertpilotError('cannot read ca_bundle %s: %s' % (ca_bundle, exc.strerror or exc))
        try:
            ders = pem_to_ders(data)
        except ValueError as exc:
            raise CertpilotError('ca_bundle %s: %s' % (ca_bundle, exc))
        if not ders:
            raise CertpilotError('ca_bundle %s contains no PEM certificate' % ca_bundle)
        for der in ders:
            try:
                roots.append(cache.get(der))
            except Exception as exc:  # noqa: BLE001
                raise CertpilotError('ca_bundle %s: cannot parse a certificate: %s' % (ca_bundle, exc))
    return roots


class Collector:
    """Holds the shared, reusable state of one run (context, caches, trust store, clock)."""

    def __init__(self, options, now=None, roots=None):
        self.options = options
        self.now = now or datetime.datetime.now(UTC)
        self.cache = CertCache()
        if roots is None:
            roots = load_roots(self.cache, options.ca_bundle, options.system_roots)
        self.verifier = ChainVerifier(roots, self.now)
        self.context = make_context()
        self.resolver = Resolver()

    # -- results --------------------------------------------------------------------------
    def judge_chain(self, base, chain_der, reference_name):
        """Fill ``base`` (name/host/... keys) with the certificate facts and the status."""
        result = dict(base)
        for key in CERT_FIELDS:
            result.setdefault(key, None)
        try:
            leaf = self.cache.get(chain_der[0])
        except Exception as exc:  # noqa: BLE001 - garbage from the network is a result, not a crash
            result.update(status='error', error='cannot parse the certificate: %s' % exc)
            return result
        chain = [leaf]
        unparsable = 0
        for der in chain_der[1:]:
            try:
                chain.append(self.cache.get(der))
            except Exception:  # noqa: BLE001
                unparsable += 1
        now = self.now
        days = (leaf.not_after - now).total_seconds() / 86400.0
        ratio = judge.remaining_ratio(leaf.not_before, leaf.not_after, now)
        expired = now >= leaf.not_after
        not_yet_valid = now < leaf.not_before
        chain_valid, chain_error, chain_warnings = self.verifier.verify_full(chain)
        if unparsable and chain_valid:
            chain_valid, chain_error = False, '%d certificate(s) of the presented chain cannot be parsed' % unparsable
        if reference_name:
            hostname_match = match_hostname(reference_name, leaf.dns_sans, leaf.ip_sans, leaf.common_names)
        else:
            hostname_match = None
        status = judge.decide_status(expired=expired, not_yet_valid=not_yet_valid, chain_valid=chain_valid,
                                     hostname_match=hostname_match, days_remaining=days, ratio=ratio,
                                     thresholds=self.options.thresholds)
        earliest = min(c.not_after for c in chain)
        result.update(
            status=status,
            days_remaining=round(days, 4),
            remaining_ratio=None if ratio is None else round(ratio, 4),
            not_before=iso_z(leaf.not_before),
            not_after=iso_z(leaf.not_after),
            subject=leaf.subject,
            issuer=leaf.issuer,
            sans=list(leaf.sans),
            serial=leaf.serial,
            fingerprint_sha256=leaf.fingerprint,
            key_type=leaf.key_type,
            key_bits=leaf.key_bits,
            signature_algorithm=leaf.signature_algorithm,
            chain_valid=chain_valid,
            chain_error=chain_error,
            chain_warnings=list(chain_warnings),
            hostname_match=hostname_match,
            earliest_chain_expiry=iso_z(earliest),
            chain=[c.summary() for c in chain],
            served_chain_sha256=[hashlib.sha256(der).hexdigest() for der in chain_der[1:]],
            error=None,
        )
        result['reason'] = explain(result, self.options.thresholds, not_yet_valid)
        note = renewal_note(status, result.get('renewed_by'))
        if note:
            result['reason'] = '%s; %s' % (result['reason'], note) if result['reason'] else note
        return result

    def endpoint_result(self, endpoint):
        base = {
            'name': endpoint.name, 'source': 'endpoint', 'host': endpoint.host, 'port': endpoint.port,
            'server_name': endpoint.server_name, 'starttls': endpoint.starttls, 'address': endpoint.address,
            'path': None, 'status': 'error', 'error': None, 'chain_source': None, 'elapsed': None,
            'expect_match': None, 'expect_error': None, 'renewed_by': endpoint.renewed_by,
        }
        result = self._endpoint_facts(endpoint, base)
        if endpoint.expect is not None:
            result['expect_match'], result['expect_error'] = compare_served(endpoint.expect, result)
        return result

    def _endpoint_facts(self, endpoint, base):
        start = time.monotonic()
        try:
            handshake = probe(endpoint, self.context, self.resolver, self.options.timeout, self.options.retries)
        except ProbeError as exc:
            base['elapsed'] = round(time.monotonic() - start, 3)
            return self._error(base, exc.msg)
        except CertpilotError as exc:
            base['elapsed'] = round(time.monotonic() - start, 3)
            return self._error(base, exc.msg)
        except Exception as exc:  # noqa: BLE001 - one odd endpoint never loses the others
            base['elapsed'] = round(time.monotonic() - start, 3)
            return self._error(base, '%s: unexpected error: %s: %s' % (endpoint.name, type(exc).__name__, exc))
        base['elapsed'] = round(time.monotonic() - start, 3)
        base['tls_version'] = handshake.tls_version
        base['chain_source'] = handshake.chain_source
        base['address'] = handshake.peer_address or endpoint.address
        return self.judge_chain(base, handshake.chain_der, endpoint.server_name)

    def file_result(self, certfile, host=None):
        base = {
            'name': certfile.name, 'source': 'file', 'host': host, 'port': None,
            'server_name': certfile.server_name, 'starttls': None, 'address': None,
            'path': certfile.path, 'status': 'error', 'error': None, 'chain_source': 'file', 'elapsed': None,
            'expect_match': None, 'expect_error': None,
            'renewed_by': certfile.renewed_by or imported_from(certfile.path),
        }
        try:
            data = _read(certfile.path)
        except (IOError, OSError) as exc:
            return self._error(base, 'cannot read %s: %s' % (certfile.path, exc.strerror or exc))
        try:
            ders = pem_to_ders(data)
        except ValueError as exc:
            return self._error(base, '%s: %s' % (certfile.path, exc))
        if not ders and data[:1] == b'\x30':
            ders = [data]  # a DER file
        if not ders:
            return self._error(base, '%s contains no certificate' % certfile.path)
        return self.judge_chain(base, ders, certfile.server_name)

    @staticmethod
    def _error(base, message):
        result = dict(base)
        for key in CERT_FIELDS:
            result.setdefault(key, None)
        result.setdefault('renewed_by', None)
        result.update(status='error', error=message, reason=message)
        return result

    # -- run ------------------------------------------------------------------------------
    def run(self, endpoints, files, host=None):
        results = []
        outcomes = run_parallel(self.endpoint_result, endpoints, self.options.concurrency)
        for endpoint, outcome in zip(endpoints, outcomes):
            if outcome.ok:
                results.append(outcome.value)
            else:  # pragma: no cover - endpoint_result catches everything
                results.append(self._error({'name': endpoint.name, 'host': endpoint.host, 'port': endpoint.port},
                                           str(outcome.error)))
        for certfile in files:
            results.append(self.file_result(certfile, host))
        return results


def summarize(results):
    """Counts per status, the soonest expiry, the worst results and the lines a report shows, in one order."""
    summary = dict((status, 0) for status in judge.STATUSES)
    summary['total'] = len(results)
    earliest = None
    for result in results:
        summary[result['status']] += 1
        if result.get('not_after') and (earliest is None or result['not_after'] < earliest['not_after']):
            earliest = {'name': result['name'], 'not_after': result['not_after'],
                        'days_remaining': result['days_remaining']}
    summary['earliest'] = earliest
    summary['worst'] = worst(results, WORST_COUNT)
    summary['counts'] = [{'status': status, 'count': summary[status]} for status in judge.MOST_SEVERE_FIRST]
    present = [status for status in judge.STATUSES if summary[status]]
    summary['failing'] = dict((fail_on, judge.should_fail(present, fail_on)) for fail_on in judge.FAIL_ON)
    summary['headline'] = headline(summary)
    summary['line'] = summary_line(summary)
    return summary


WORST_COUNT = 5


def worst(results, count=WORST_COUNT):
    """The ``count`` most urgent non-ok results (most severe status first, then fewest days left)."""
    bad = [r for r in results if r['status'] != 'ok']
    return [{'name': r['name'], 'status': r['status'], 'days_remaining': r.get('days_remaining')}
            for r in by_urgency(bad)[:count]]


def headline(summary):
    """The counts that are not ok, most severe first, and the total: ``1 expired, 2 critical (250 checked)``."""
    parts = ['%d %s' % (summary[status], status) for status in judge.MOST_SEVERE_FIRST
             if status != 'ok' and summary[status]]
    return '%s (%d checked)' % (', '.join(parts) if parts else 'all ok', summary['total'])


def summary_line(summary):
    """One line for a job log: counts per status, most severe first, and the worst results."""
    counts = ', '.join('%d %s' % (summary[status], status) for status in judge.MOST_SEVERE_FIRST)
    line = 'certpilot TLS expiry: %d checked: %s' % (summary['total'], counts)
    if summary.get('worst'):
        line += '; worst: ' + ', '.join(
            '%s (%s%s)' % (w['name'], w['status'],
                           '' if w['days_remaining'] is None else ', %.1f days' % w['days_remaining'])
            for w in summary['worst'])
    return line


def collect(endpoints=None, files=None, options=None, host=None, now=None, roots=None):
    """Everything the module returns under ``tls_expiry``; raises CertpilotError for bad input."""
    options = options or Options()
    parsed_endpoints = parse_endpoints(endpoints)
    parsed_files = parse_files(files)
    if not parsed_endpoints and not parsed_files:
        raise CertpilotError('give at least one entry in endpoints or files')
    collector = Collector(options, now=now, roots=roots)
    results = collector.run(parsed_endpoints, parsed_files, host=host)
    summary = summarize(results)
    failing = judge.should_fail([r['status'] for r in results], options.fail_on)
    return {
        'results': results,
        'urgency_order': urgency_order(results),
        'summary': summary,
        'checked_at': iso_z(collector.now),
        'thresholds': {
            'warn_days': options.thresholds.warn_days, 'critical_days': options.thresholds.critical_days,
            'warn_ratio': options.thresholds.warn_ratio, 'critical_ratio': options.thresholds.critical_ratio,
        },
        'verifier': collector.verifier.engine,
    }, failing
