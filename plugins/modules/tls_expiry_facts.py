#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: tls_expiry_facts
short_description: Check TLS endpoints and certificate files for expiry, chain and name problems
version_added: 0.1.0
description:
  - Completes a TLS handshake with every endpoint (directly or after STARTTLS) and records the leaf
    certificate and the whole presented chain B(whether or not they verify), then judges them
    separately with C(cryptography) - expiry, chain validity against the system roots plus
    O(ca_bundle), and the host name per RFC 6125.
  - Also reads PEM (or DER) certificate files on the target host.
  - Every endpoint gets an absolute deadline (O(timeout)) covering name resolution, connect,
    STARTTLS, handshake and retries; unreachable endpoints become C(error) results, never a task
    failure, and never stall the others. Endpoints are probed concurrently (O(concurrency) threads).
  - "Status precedence, most severe first: C(error) (no handshake / unreadable file) >
    C(expired) > C(invalid) (chain does not validate, name mismatch, or not yet valid) >
    C(critical) > C(warning) > C(ok)."
  - A certificate is C(warning) if its days remaining < O(warn_days) OR, when O(warn_ratio) is set,
    remaining/lifetime < O(warn_ratio); C(critical) likewise with O(critical_days)/O(critical_ratio).
  - The presented chain is read with C(SSLSocket.get_unverified_chain) (Python 3.13+) or the
    equivalent CPython-internal call (Python 3.10 to 3.12). On older Pythons only the leaf is
    available; RV(tls_expiry.results[].chain_source) says which was used.
author:
  - certpilot maintainers (@certpilot)
requirements:
  - cryptography >= 3.4 (>= 42 for RFC 5280 path validation; older versions use a manual path check)
options:
  endpoints:
    description:
      - Endpoints to probe. Each entry is a string V(host), V(host:port), V([v6]:port) (port
        defaults to 443) or a dictionary with these keys.
      - C(host) (required) - host name or IP address, may include V(:port) when C(port) is not given.
      - C(port) - TCP port; defaults to 443, or to the protocol's port with C(starttls)
        (smtp 25, imap 143, pop3 110, ftp 21, postgres 5432).
      - C(server_name) - name sent as SNI and checked against the certificate; defaults to C(host).
      - C(starttls) - plain-text prelude before the handshake, one of V(none) (default), V(smtp),
        V(imap), V(pop3), V(ftp), V(postgres).
      - C(name) - label of the result; defaults to C(host:port), or C(server_name@host:port) when
        the server name differs from the host.
      - C(address) - connect to this address instead of resolving C(host), either an IP address or a host name
        resolved on the host running the module (IPv4 and IPv6, tried in the resolver's order), under the
        endpoint's O(timeout). A name that does not resolve makes that endpoint an C(error) result naming the
        name (it never skips the check, and the other endpoints are still checked).
      - C(expect) - what the server must serve, as a dictionary with C(fingerprint_sha256) (SHA-256 of the
        leaf certificate, hex, colons allowed) and C(chain_sha256) (the SHA-256 of every certificate the
        server must send after the leaf, in order; an empty list for none). Both are required. The module
        compares what was served and sets RV(tls_expiry.results[].expect_match) and
        RV(tls_expiry.results[].expect_error); an endpoint that cannot be checked is a mismatch (fails closed).
        A right leaf with a wrong, missing or extra intermediate is a mismatch.
      - C(renewed_by) - who renews the certificate when certpilot does not (a bought or internal-CA
        certificate, for example V(PKI team)). Returned as RV(tls_expiry.results[].renewed_by), and the reason
        of a C(warning), C(critical) or C(expired) result names them.
    type: list
    elements: raw
    default: []
  endpoints_file:
    description:
      - A JSON file on the host running the module with a list of more endpoints (entries as in O(endpoints)),
        checked after those of O(endpoints).
      - For thousands of endpoints, so that the task result (which repeats the module arguments) stays small.
    type: path
    version_added: 0.2.0
  files:
    description:
      - Certificate files on the target host (PEM, the leaf first, maybe followed by its chain; or DER).
      - Each entry is a path or a dictionary with C(path), optional C(name), optional C(server_name)
        (when given, the name is checked against the certificate) and optional C(renewed_by) (as for O(endpoints)).
      - A file in a certpilot store directory whose C(issuer.json) says it was imported by
        M(certpilot.tls.cert_import) (or M(certpilot.tls.huaweicloud_ccm_certificate)) gets the source recorded
        at import as its C(renewed_by), unless the entry gives one.
    type: list
    elements: raw
    default: []
  warn_days:
    description: Warn when fewer days than this remain.
    type: float
    default: 21
  critical_days:
    description: Critical when fewer days than this remain.
    type: float
    default: 7
  warn_ratio:
    description:
      - Also warn when the fraction of the certificate lifetime left is below this (0 to 1).
      - For short-lived certificates, for example V(0.33).
    type: float
  critical_ratio:
    description: Also critical when the fraction of the lifetime left is below this (0 to 1).
    type: float
  timeout:
    description:
      - Absolute deadline in seconds per endpoint, covering resolution, connect, STARTTLS,
        handshake and every retry.
    type: float
    default: 5
  retries:
    description:
      - Retries per endpoint of transient network errors (refused, reset, timeout) within
        O(timeout). TLS alerts and protocol errors are never retried.
    type: int
    default: 1
  concurrency:
    description: Number of endpoints probed at the same time.
    type: int
    default: 64
  ca_bundle:
    description: PEM file on the target host with extra trust anchors (for example a private CA).
    type: path
  system_roots:
    description: Trust the system's root certificates in addition to O(ca_bundle).
    type: bool
    default: true
  fail_on:
    description:
      - Fail the task (after returning all facts) when a result has one of these statuses.
      - V(never) never fails; V(error) fails on C(error), C(expired) and C(invalid) (broken now);
        V(critical) also on C(critical); V(warning) on anything but C(ok).
    type: str
    choices: [never, error, critical, warning]
    default: never
  results_file:
    description:
      - Write the full facts (every result, as RV(tls_expiry) with O(return_results=full)) as JSON to this file on
        the host running the module, whatever O(return_results) says.
      - Written atomically (a temporary file in the same directory, created with O(results_file_mode), then
        renamed), so a reader sees the previous file or the new one, never half of one. A symlink at the path
        is replaced, never written through. The directory must exist.
      - Not written in check mode.
    type: path
    version_added: 0.2.0
  results_file_mode:
    description: Permissions of O(results_file) from the moment it is created (octal string).
    type: raw
    default: '0640'
    version_added: 0.2.0
  return_results:
    description:
      - Which results the task returns in RV(tls_expiry.results) (the summary is always complete).
      - V(full) - every result, in input order.
      - V(problems) - only the results that need attention (status not C(ok), or an C(expect) mismatch), most
        urgent first, as many as fit in O(return_max_bytes) of JSON.
      - V(summary) - no results.
      - V(mismatches) - for checking a deploy - only the results whose C(expect) did not match (or that had no
        C(expect)), and the names of those that matched in RV(tls_expiry.returned.matched). The result of a
        check of 1,500 endpoints that all serve what they should is then a few kilobytes instead of megabytes.
      - "For AWX or Automation Controller, which drops a job event over 700,000 bytes: with more than a few
        hundred endpoints use O(results_file) with V(problems) or V(summary), and O(endpoints_file)."
      - RV(tls_expiry.returned) says how many results were left out.
    type: str
    choices: [full, problems, summary, mismatches]
    default: full
    version_added: 0.2.0
  return_max_bytes:
    description:
      - With O(return_results=problems), the most JSON bytes of results returned. With O(set_facts=true) the
        results appear twice in the task result (RV(tls_expiry) and the fact), so they take at most twice this.
    type: int
    default: 150000
    version_added: 0.2.0
  set_facts:
    description:
      - Also set the fact C(tls_expiry) (the same value as RV(tls_expiry)).
      - V(false) returns the facts only in RV(tls_expiry), for a task that registers its result. That halves the
        size of the task result, which matters with thousands of endpoints.
    type: bool
    default: true
    version_added: 0.3.0
attributes:
  check_mode:
    support: full
    description: The module only reads (and writes O(results_file) when given); in check mode it probes the same
      and writes nothing.
  diff_mode:
    support: none
    description: Nothing to diff.
  facts:
    support: full
    description: Sets the fact C(tls_expiry), unless O(set_facts=false).
notes:
  - Certificates are fetched with verification off on purpose, so that a bad certificate is
    reported instead of hiding behind a handshake error. Never use the fetched chain as trusted.
seealso:
  - name: certpilot.tls.expiry_report role
    description: HTML, Markdown, CSV, JSON and Prometheus reports built on this module.
    link: https://example.invalid/certpilot/tls/blob/main/roles/expiry_report/README.md
'''

EXAMPLES = r'''
- name: Check public endpoints and a local certificate
  certpilot.tls.tls_expiry_facts:
    endpoints:
      - www.example.com
      - "[2001:db8::10]:8443"
      - host: mail.example.com
        starttls: smtp
        port: 587
      - host: lb.example.com
        address: 192.0.2.10
        server_name: shop.example.com
    files:
      - /etc/nginx/tls/fullchain.pem
    warn_days: 21
    critical_days: 7

- name: Verify that a deployed certificate is served with its chain, through a name resolved here
  certpilot.tls.tls_expiry_facts:
    endpoints:
      - host: www.example.com
        address: web1.internal.example.com
        expect:
          fingerprint_sha256: "{{ leaf_sha256 }}"
          chain_sha256: "{{ intermediate_sha256_list }}"
  register: served
  failed_when: served.tls_expiry.results | rejectattr('expect_match') | list | length > 0

- name: Thousands of endpoints - full results to a file, only the problems in the task result
  certpilot.tls.tls_expiry_facts:
    endpoints_file: /var/lib/certpilot/endpoints.json
    results_file: /var/lib/certpilot/expiry-report/tls-expiry.json
    return_results: problems

- name: Short-lived certificates, fail the job when anything is critical or worse
  certpilot.tls.tls_expiry_facts:
    endpoints: "{{ groups['web'] | map('extract', hostvars, 'ansible_host') | list }}"
    warn_days: 2
    critical_days: 1
    warn_ratio: 0.33
    critical_ratio: 0.15
    fail_on: critical

- name: Show what needs attention
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.status }} - {{ item.reason }}"
  loop: "{{ tls_expiry.results | rejectattr('status', 'equalto', 'ok') }}"
'''

RETURN = r'''
tls_expiry:
  description: The facts; also set as the fact C(tls_expiry).
  returned: always
  type: dict
  contains:
    checked_at:
      description: When the certificates were judged (ISO 8601 UTC).
      type: str
      sample: '2026-11-24T12:00:00Z'
    verifier:
      description: Chain validation engine used (C(cryptography.x509.verification) or C(manual)).
      type: str
      sample: cryptography.x509.verification
    thresholds:
      description: The warn/critical limits applied.
      type: dict
      sample: {warn_days: 21.0, critical_days: 7.0, warn_ratio: null, critical_ratio: null}
    summary:
      description: Counts per status and the soonest expiring certificate.
      type: dict
      contains:
        total:
          description: Number of results.
          type: int
        ok:
          description: Results with status C(ok).
          type: int
        warning:
          description: Results with status C(warning).
          type: int
        critical:
          description: Results with status C(critical).
          type: int
        invalid:
          description: Results with status C(invalid).
          type: int
        expired:
          description: Results with status C(expired).
          type: int
        error:
          description: Results with status C(error).
          type: int
        earliest:
          description: C(name), C(not_after) and C(days_remaining) of the soonest expiring leaf, or null.
          type: dict
          sample: {name: 'www.example.com:443', not_after: '2026-12-01T00:00:00Z', days_remaining: 6.5}
        worst:
          description: The five most urgent non-ok results (most severe status first, then fewest days left).
          type: list
          elements: dict
          sample: [{name: 'old.example.com:443', status: expired, days_remaining: -2.0}]
        line:
          description: One summary line for a job log (counts per status and the worst five).
          type: str
          sample: 'certpilot TLS expiry: 2 checked: 0 error, 1 expired, 0 invalid, 0 critical, 0 warning, 1 ok; worst: old (expired)'
        counts:
          description:
            - The count of every status, most severe first (V(error), V(expired), V(invalid), V(critical), V(warning),
              V(ok)), the order reports show them in.
          type: list
          elements: dict
          version_added: 0.2.0
          contains:
            status:
              description: The status.
              type: str
            count:
              description: How many results have it.
              type: int
          sample: [{status: error, count: 0}, {status: expired, count: 1}, {status: invalid, count: 0},
                   {status: critical, count: 0}, {status: warning, count: 0}, {status: ok, count: 1}]
        failing:
          description:
            - For every value of O(fail_on), the statuses present in the results that it fails on, most severe first
              (an empty list - nothing fails). The task itself fails by O(fail_on) alone; a role that runs the check
              with O(fail_on=never) and fails later reads its own setting here.
          type: dict
          version_added: 0.2.0
          sample: {never: [], error: [expired], critical: [expired], warning: [expired]}
        headline:
          description: The counts that are not C(ok), most severe first, and the total (C(all ok) when nothing is wrong).
          type: str
          version_added: 0.2.0
          sample: '1 expired, 2 critical (250 checked)'
    urgency_order:
      description:
        - Positions (from 0) in RV(tls_expiry.results), most urgent first - most severe status, then fewest days left;
          equal urgency keeps the input order. The full facts in O(results_file) carry it for every result.
        - With O(return_results=problems) the returned results are already in this order.
      type: list
      elements: int
      version_added: 0.2.0
      sample: [2, 0, 1]
    returned:
      description: Which results RV(tls_expiry.results) holds (see O(return_results)).
      type: dict
      version_added: 0.2.0
      contains:
        mode:
          description: The O(return_results) value.
          type: str
          sample: problems
        results:
          description: Number of results returned.
          type: int
          sample: 3
        omitted:
          description: Number of results left out (all of them are in O(results_file)).
          type: int
          sample: 4997
        problems:
          description: Number of results that need attention (status not C(ok), or an C(expect) mismatch).
          type: int
          sample: 3
        results_file:
          description: The file the full facts were written to (null when none was written, as in check mode).
          type: str
          sample: /var/lib/certpilot/expiry-report/tls-expiry.json
        matched:
          description:
            - With O(return_results=mismatches), the names of the results whose C(expect) matched (input order).
          type: list
          elements: str
          returned: when O(return_results=mismatches)
          sample: ["www|www.example.com"]
          version_added: 0.3.0
    results:
      description:
        - One entry per endpoint then per file, in input order (O(return_results=full)); only the problems,
          most urgent first (V(problems)); none (V(summary)); the results whose C(expect) did not match, or that
          had no C(expect), in input order (V(mismatches)).
      type: list
      elements: dict
      contains:
        name:
          description: Label of the endpoint or file.
          type: str
        source:
          description: C(endpoint) or C(file).
          type: str
        host:
          description: Host probed (for files, the host name of the target the module ran on).
          type: str
        port:
          description: TCP port (null for files).
          type: int
        server_name:
          description: SNI sent and name checked against the certificate.
          type: str
        starttls:
          description: STARTTLS protocol used.
          type: str
        address:
          description: IP address connected to (the C(address) given, a host name, when no connection was made).
          type: str
        path:
          description: File path (files only).
          type: str
        status:
          description: One of C(ok), C(warning), C(critical), C(invalid), C(expired), C(error).
          type: str
          sample: ok
        reason:
          description: Why the status is not C(ok) (null when ok).
          type: str
          sample: expires in 3.0 days (< 7 days)
        days_remaining:
          description: Days until the leaf expires (negative when expired).
          type: float
          sample: 42.5
        remaining_ratio:
          description: Fraction of the leaf lifetime left (0 to 1).
          type: float
        not_before:
          description: Leaf notBefore (ISO 8601 UTC).
          type: str
        not_after:
          description: Leaf notAfter (ISO 8601 UTC).
          type: str
        subject:
          description: Leaf subject (RFC 4514).
          type: str
        issuer:
          description: Leaf issuer (RFC 4514).
          type: str
        sans:
          description: DNS and IP subjectAltNames of the leaf.
          type: list
          elements: str
        serial:
          description: Serial number, lower-case hex.
          type: str
        fingerprint_sha256:
          description: SHA-256 of the leaf DER, lower-case hex.
          type: str
        key_type:
          description: C(RSA), C(EC), C(Ed25519), C(Ed448) or C(DSA).
          type: str
        key_bits:
          description: Key size in bits (curve size for EC).
          type: int
        signature_algorithm:
          description: Signature algorithm of the leaf.
          type: str
          sample: sha256WithRSAEncryption
        chain_valid:
          description:
            - Whether the presented chain validates to a trust anchor now (independent of the name), as OpenSSL's
              verifier decides it (the one curl, nginx clients and Python use) with the given trust store.
            - False (fail closed) when OpenSSL's verifier cannot run; O(ca_bundle) and O(system_roots) set the anchors.
          type: bool
        chain_error:
          description: Why the chain does not validate.
          type: str
        chain_warnings:
          description:
            - Findings of the stricter RFC 5280 / CA/Browser Forum validator (cryptography) on a chain OpenSSL accepts,
              for example a private CA without key identifiers or keyUsage. They do not change C(status).
          type: list
          elements: str
          sample: []
        hostname_match:
          description: Whether server_name matches the leaf per RFC 6125 (null for files without server_name).
          type: bool
        earliest_chain_expiry:
          description: Soonest notAfter in the presented chain, leaf included (ISO 8601 UTC).
          type: str
        chain:
          description: Presented chain, leaf first (subject, issuer, not_before, not_after, serial, fingerprint_sha256).
          type: list
          elements: dict
        served_chain_sha256:
          description: SHA-256 (lower-case hex) of every certificate presented after the leaf, in the order sent.
          type: list
          elements: str
          version_added: 0.2.0
        expect_match:
          description:
            - Whether the endpoint served the C(expect) leaf and chain exactly (null without C(expect), and for files).
            - False when the endpoint could not be checked (fails closed).
          type: bool
          version_added: 0.2.0
        expect_error:
          description: Why RV(tls_expiry.results[].expect_match) is false (null otherwise).
          type: str
          sample: 'right leaf, wrong chain: served [9f86...], expected [60303a...]'
          version_added: 0.2.0
        renewed_by:
          description:
            - Who renews this certificate when certpilot does not - the C(renewed_by) of the entry, or for a store
              file of an imported certificate the source recorded at import; null otherwise.
            - The RV(tls_expiry.results[].reason) of a C(warning), C(critical) or C(expired) result names them.
          type: str
          sample: Internal CA (pki-team@example.com)
          version_added: 0.3.0
        chain_source:
          description: How the chain was read (C(public), C(private), C(leaf-only) or C(file)).
          type: str
        tls_version:
          description: Negotiated protocol version.
          type: str
          sample: TLSv1.3
        error:
          description: Why no certificate could be obtained (status C(error)).
          type: str
        elapsed:
          description: Seconds spent on the endpoint (connect to handshake, retries included; null for files).
          type: float
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from ansible_collections.certpilot.tls.plugins.module_utils.tls.certinfo import (
        HAS_CRYPTOGRAPHY, CRYPTOGRAPHY_IMPORT_ERROR)
    from ansible_collections.certpilot.tls.plugins.module_utils.tls.facts import Options, collect
    from ansible_collections.certpilot.tls.plugins.module_utils.tls import results as _results
    from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
except ImportError as exc:  # pragma: no cover
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc


def main():
    module = AnsibleModule(
        argument_spec=dict(
            endpoints=dict(type='list', elements='raw', default=[]),
            files=dict(type='list', elements='raw', default=[]),
            warn_days=dict(type='float', default=21),
            critical_days=dict(type='float', default=7),
            warn_ratio=dict(type='float'),
            critical_ratio=dict(type='float'),
            timeout=dict(type='float', default=5),
            retries=dict(type='int', default=1),
            concurrency=dict(type='int', default=64),
            ca_bundle=dict(type='path'),
            system_roots=dict(type='bool', default=True),
            fail_on=dict(type='str', default='never', choices=['never', 'error', 'critical', 'warning']),
            endpoints_file=dict(type='path'),
            results_file=dict(type='path'),
            results_file_mode=dict(type='raw', default='0640'),
            return_results=dict(type='str', default='full', choices=['full', 'problems', 'summary', 'mismatches']),
            return_max_bytes=dict(type='int', default=150000),
            set_facts=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=str(CRYPTOGRAPHY_IMPORT_ERROR))
    params = module.params
    try:
        options = Options(
            warn_days=params['warn_days'], critical_days=params['critical_days'],
            warn_ratio=params['warn_ratio'], critical_ratio=params['critical_ratio'],
            timeout=params['timeout'], retries=params['retries'], concurrency=params['concurrency'],
            ca_bundle=params['ca_bundle'], system_roots=params['system_roots'], fail_on=params['fail_on'])
        endpoints = list(params['endpoints'])
        if params['endpoints_file']:
            endpoints.extend(_results.read_endpoints_file(params['endpoints_file']))
        file_mode = _results.parse_mode(params['results_file_mode'])
        # Validate before the (possibly long) run, so a typo costs nothing.
        _results.shape({'results': []}, params['return_results'], params['return_max_bytes'])
        facts, failing = collect(endpoints, params['files'], options, host=_target_host())
        written = None
        if params['results_file'] and not module.check_mode:
            _results.write_results_file(params['results_file'], facts, file_mode)
            written = params['results_file']
        returned = _results.shape(facts, params['return_results'], params['return_max_bytes'], written)
    except CertpilotError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    result = dict(changed=written is not None, tls_expiry=returned)
    if params['set_facts']:
        result['ansible_facts'] = dict(tls_expiry=returned)
    if failing:
        summary = facts['summary']
        module.fail_json(
            msg='fail_on=%s: %s (of %d checked: %s)' % (
                params['fail_on'], ', '.join('%d %s' % (summary[s], s) for s in failing), summary['total'],
                ', '.join(r['name'] for r in facts['results'] if r['status'] in failing)[:500]),
            **result)
    module.exit_json(**result)


def _target_host():
    import socket
    try:
        return socket.gethostname()
    except Exception:  # noqa: BLE001
        return None


if __name__ == '__main__':
    main()
