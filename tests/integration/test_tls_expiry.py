# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls_expiry_facts and the expiry_report role against a real farm of TLS servers (tls_farm.py).

Expected values are derived from the certificates the farm generated, never hard-coded.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import csv
import datetime
import email
import glob
import hashlib
import io
import json
import os
import sys
import shutil
import struct
import subprocess
import tempfile
import time
import zlib

import pytest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import helpers  # noqa: E402  (tests/integration is on sys.path via conftest)
from helpers import REPO  # noqa: E402
from tls_farm import Farm  # noqa: E402

UTC = datetime.timezone.utc
ARTIFACTS = os.path.join(REPO, 'artifacts')
WARN, CRIT = 21, 7
TIMEOUT = 2.0
STATUS_COLOURS = {  # the badge colours of roles/expiry_report/templates/report.html.j2
    'ok': (0x1b, 0x87, 0x3f), 'warning': (0xf5, 0xa6, 0x23), 'critical': (0xe8, 0x59, 0x0c),
    'expired': (0xc9, 0x2a, 0x2a), 'invalid': (0x86, 0x2e, 0x9c), 'error': (0x49, 0x50, 0x57),
}


@pytest.fixture(scope='module')
def farm():
    farm = Farm(net=0, filler=40)
    try:
        farm.start()
        yield farm
    finally:
        farm.stop()


@pytest.fixture(scope='module')
def farm_playbook(farm, tmp_path_factory):
    """Like conftest's run_playbook, but needs no sandbox: the farm is all these tests talk to."""
    workdir = str(tmp_path_factory.mktemp('tls-playbooks'))
    env = dict(os.environ)
    env['ANSIBLE_COLLECTIONS_PATH'] = helpers.COLLECTIONS
    env['PYTHONPATH'] = helpers.COLLECTIONS
    env['ANSIBLE_CALLBACK_PLUGINS'] = helpers.CALLBACK_DIR
    env['ANSIBLE_CALLBACKS_ENABLED'] = 'sandbox_json'
    env['ANSIBLE_NOCOLOR'] = '1'
    env['ANSIBLE_RETRY_FILES_ENABLED'] = '0'
    env.pop('ANSIBLE_CONFIG', None)
    env.pop('ANSIBLE_STDOUT_CALLBACK', None)

    def run(playbook, extra_vars=None, check=False, inventory=None, timeout=300):
        return helpers.run_ansible_playbook(playbook, env, workdir, inventory or _inventory(farm),
                                            extra_vars=extra_vars, check=check, timeout=timeout)
    return run


def iso(dt):
    return dt.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


def expected_status(case, now):
    """Independent judgement from what the generator did."""
    leaf = case.leaf
    days = (leaf.not_valid_after_utc - now).total_seconds() / 86400.0
    if now >= leaf.not_valid_after_utc:
        return 'expired'
    if case.expect.get('chain_valid') is False or case.expect.get('hostname_match') is False:
        return 'invalid'
    if days < CRIT:
        return 'critical'
    if days < WARN:
        return 'warning'
    return 'ok'


def key_facts(cert):
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return 'RSA', key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return 'EC', key.curve.key_size
    raise AssertionError('unexpected key type in the farm')


FACTS_PLAYBOOK = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: probe
      certpilot.tls.tls_expiry_facts:
        endpoints: "{{ eps }}"
        files: "{{ files | default([]) }}"
        ca_bundle: "{{ ca }}"
        warn_days: %d
        critical_days: %d
        timeout: %s
        retries: 1
        fail_on: "{{ fail_on | default('never') }}"
        set_facts: "{{ set_facts | default(true) }}"
    - name: the fact as the next task sees it
      ansible.builtin.debug:
        msg: "{{ tls_expiry.summary.total | default('no fact') }}"
''' % (WARN, CRIT, TIMEOUT)


def _probe_results(farm_playbook, farm, extra=None, check=False):
    specials = farm.special_endpoints()
    eps = farm.endpoints() + [specials['closed'], specials['tarpit'], specials['noaccept']]
    extra_vars = {'eps': eps, 'ca': farm.ca_bundle}
    extra_vars.update(extra or {})
    run = farm_playbook(FACTS_PLAYBOOK, extra_vars=extra_vars, check=check, timeout=300)
    return run, eps


def test_every_field_matches_the_generated_certificates(farm_playbook, farm):
    run, eps = _probe_results(farm_playbook, farm, {'files': [farm.case('exp10').chain_path]})
    assert run.rc == 0, run.explain()
    res = run.task_results('probe')['localhost']
    assert res['changed'] is False
    facts = res['tls_expiry']
    assert res['ansible_facts']['tls_expiry']['summary'] == facts['summary']
    results = facts['results']
    assert len(eps) >= 50 + 3
    assert [r['name'] for r in results[:len(eps)]] == [e['name'] for e in eps], 'results must keep input order'
    now = datetime.datetime.strptime(facts['checked_at'], '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=UTC)
    by_name = dict((r['name'], r) for r in results)
    seen_kinds = set()
    for case in farm.cases:
        r = by_name[case.kind]
        leaf = case.leaf
        seen_kinds.add(case.kind)
        assert r['error'] is None, r
        assert r['status'] == expected_status(case, now), (case.kind, r['status'], r['reason'])
        assert r['fingerprint_sha256'] == hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest()
        assert r['serial'] == '%x' % leaf.serial_number
        assert r['not_after'] == iso(leaf.not_valid_after_utc)
        assert r['not_before'] == iso(leaf.not_valid_before_utc)
        assert r['subject'] == leaf.subject.rfc4514_string()
        assert r['issuer'] == leaf.issuer.rfc4514_string()
        assert (r['key_type'], r['key_bits']) == key_facts(leaf)
        assert r['signature_algorithm'] == leaf.signature_algorithm_oid._name
        expected_days = (leaf.not_valid_after_utc - now).total_seconds() / 86400.0
        assert abs(r['days_remaining'] - expected_days) < 2.0 / 86400 + 1e-4, case.kind
        presented = [i.cert.public_bytes(serialization.Encoding.DER) for i in case.chain]
        assert [c['fingerprint_sha256'] for c in r['chain']] == [hashlib.sha256(d).hexdigest() for d in presented]
        assert r['earliest_chain_expiry'] == iso(min(i.cert.not_valid_after_utc for i in case.chain))
        assert r['chain_source'] in ('public', 'private')
        assert r['tls_version'] in ('TLSv1.2', 'TLSv1.3')
        if 'chain_valid' in case.expect:
            assert r['chain_valid'] is case.expect['chain_valid'], case.kind
            assert r['chain_error'], case.kind
        elif now < leaf.not_valid_after_utc:
            assert r['chain_valid'] is True and r['chain_error'] is None, (case.kind, r['chain_error'])
        assert r['hostname_match'] is case.expect.get('hostname_match', True), case.kind
        if case.expect.get('chain_warnings'):
            assert r['chain_valid'] is True and r['status'] == 'ok', (case.kind, r)
            assert r['chain_warnings'] and 'stricter' in r['chain_warnings'][0], (case.kind, r['chain_warnings'])
        elif r['chain_valid']:
            assert r['chain_warnings'] == [], (case.kind, r['chain_warnings'])
        if 'key_type' in case.expect:
            assert (r['key_type'], r['key_bits']) == (case.expect['key_type'], case.expect['key_bits'])
    for kind in ('expired', 'exp3', 'exp10', 'exp30', 'exp80', 'selfsigned', 'wronghost', 'incomplete', 'rsa2048',
                 'ecp384', 'wildcard', 'ip-san', 'expired-intermediate', 'smtp-starttls', 'private-plain'):
        assert kind in seen_kinds
    # Specific diagnoses, not just "invalid".
    assert 'self-signed' in by_name['selfsigned']['chain_error']
    assert 'incomplete chain' in by_name['incomplete']['chain_error']
    assert 'old intermediate' in by_name['expired-intermediate']['chain_error']
    assert by_name['expired-intermediate']['earliest_chain_expiry'] < facts['checked_at']
    assert by_name['ip-san']['sans'] == [farm.ip_address]
    assert by_name['wildcard']['sans'] == ['*.wild.farm.test']
    # Unreachable endpoints: error results, never a task failure. The deadline is honoured: the blackholes
    # end with the deadline's own error (naming the configured timeout, not a kernel timeout or a hang), and the
    # module's own per-endpoint accounting stays within it (no wall-clock measurement of the test run).
    for special in ('closed', 'tarpit', 'noaccept'):
        r = by_name[special]
        assert r['status'] == 'error' and r['error'], r
        assert r['elapsed'] is not None and r['elapsed'] <= TIMEOUT + 0.5, r
    assert 'refused' in by_name['closed']['error']
    for blackhole in ('tarpit', 'noaccept'):
        error = by_name[blackhole]['error']
        assert ('timed out after %ss' % TIMEOUT in error or 'did not finish within %ss' % TIMEOUT in error), error
    # File result: same shape, name = path.
    file_result = results[-1]
    assert file_result['source'] == 'file' and file_result['name'] == farm.case('exp10').chain_path
    assert file_result['fingerprint_sha256'] == by_name['exp10']['fingerprint_sha256']
    assert file_result['status'] == by_name['exp10']['status']
    counts = collections.Counter(r['status'] for r in results)
    summary = facts['summary']
    for status in ('ok', 'warning', 'critical', 'invalid', 'expired', 'error'):
        assert summary[status] == counts.get(status, 0)
    assert summary['total'] == len(results)
    dated = [r for r in results if r['not_after']]
    assert summary['earliest']['not_after'] == min(r['not_after'] for r in dated)


def test_set_facts_false_returns_the_same_facts_without_the_fact(farm_playbook, farm):
    with_fact, eps = _probe_results(farm_playbook, farm)
    without, _eps = _probe_results(farm_playbook, farm, {'set_facts': False})
    assert with_fact.rc == 0 and without.rc == 0, without.explain()
    full, lean = with_fact.task_results('probe')['localhost'], without.task_results('probe')['localhost']
    assert 'ansible_facts' in full and 'ansible_facts' not in lean
    assert lean['tls_expiry']['summary']['total'] == len(eps)
    assert [r['name'] for r in lean['tls_expiry']['results']] == [r['name'] for r in full['tls_expiry']['results']]
    assert with_fact.task_results('the fact as the next task sees it')['localhost']['msg'] == len(eps)
    assert without.task_results('the fact as the next task sees it')['localhost']['msg'] == 'no fact'


def test_fail_on_fails_after_returning_facts_in_check_mode(farm_playbook, farm):
    run, eps = _probe_results(farm_playbook, farm, {'fail_on': 'critical'}, check=True)
    assert run.rc != 0
    res = run.task_results('probe')['localhost']
    assert res.get('failed') is True
    assert len(res['tls_expiry']['results']) == len(eps)
    summary = res['tls_expiry']['summary']
    assert '%d expired' % summary['expired'] in res['msg'] and 'fail_on=critical' in res['msg']


def test_bad_input_is_a_clear_error(farm_playbook):
    run = farm_playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: bad
      certpilot.tls.tls_expiry_facts:
        endpoints: ["example.com:99999"]
''')
    assert run.rc != 0
    res = run.task_results('bad')['localhost']
    assert 'port must be between 1 and 65535' in res['msg']
    assert 'Traceback' not in json.dumps(res)


# ---------------------------------------------------------------------------- role and reports
ROLE_PLAYBOOK = '''
- hosts: localhost
  gather_facts: false
  roles:
    - role: certpilot.tls.expiry_report
'''


def _inventory(farm):
    return {
        'all': {
            'hosts': {'localhost': {'ansible_connection': 'local', 'ansible_python_interpreter': os.path.join(
                os.path.dirname(os.path.abspath(sys.executable)), 'python')}},
            'children': {'farmweb': {'hosts': {
                'farm-ip-host': {'ansible_host': farm.ip_address, 'expiry_report_port': farm.port},
                'farm-multi': {'expiry_report_host_endpoints': [
                    {'host': 'exp80.farm.test', 'address': farm.sni_address, 'port': farm.port, 'name': 'multi-exp80'},
                    '%s:%d' % (farm.closed_address, farm.closed_port)]},
            }}},
        }
    }


@pytest.fixture(scope='module')
def report(farm_playbook, farm, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('report'))
    eps = farm.endpoints()
    extra = {'expiry_report_endpoints': eps, 'expiry_report_groups': ['farmweb'], 'expiry_report_dir': out,
             'expiry_report_ca_bundle': farm.ca_bundle, 'expiry_report_timeout': TIMEOUT,
             'expiry_report_fail_on': 'critical'}
    run = farm_playbook(os.path.join(REPO, 'playbooks', 'expiry_report.yml'), extra_vars=extra, timeout=300)
    return run, out, eps


def test_role_writes_every_format_and_fails_after(report, farm):
    run, out, eps = report
    assert run.rc != 0, 'fail_on=critical must turn the play red: ' + run.explain()
    assert 'expiry_report_fail_on=critical' in run.stdout, run.explain()
    data = json.load(open(os.path.join(out, 'tls-expiry.json')))
    results = data['results']
    names = [r['name'] for r in results]
    assert names[:len(eps)] == [e['name'] for e in eps]
    assert names[len(eps):] == ['farm-ip-host', 'multi-exp80', '%s:%d' % (farm.closed_address, farm.closed_port)]
    by_name = dict((r['name'], r) for r in results)
    assert by_name['farm-ip-host']['status'] == 'ok' and by_name['farm-ip-host']['hostname_match'] is True
    assert by_name['multi-exp80']['fingerprint_sha256'] == by_name['exp80']['fingerprint_sha256']
    # CSV: one row per result, sorted by urgency.
    rows = list(csv.DictReader(io.open(os.path.join(out, 'tls-expiry.csv'), newline='')))
    assert sorted(r['name'] for r in rows) == sorted(names)
    order = ['error', 'expired', 'invalid', 'critical', 'warning', 'ok']
    ranks = [order.index(r['status']) for r in rows]
    assert ranks == sorted(ranks)
    for st in order[1:]:
        days = [float(r['days_remaining']) for r in rows if r['status'] == st]
        assert days == sorted(days)
    for row in rows:
        assert row['status'] == by_name[row['name']]['status']
        assert row['not_after'] == (by_name[row['name']]['not_after'] or '')
    # Markdown: a table row per result.
    md = io.open(os.path.join(out, 'tls-expiry.md')).read()
    for r in results:
        assert '| %s | %s |' % (r['name'], r['status']) in md
    # Prometheus text format.
    prom = io.open(os.path.join(REPO, out, 'certpilot_tls.prom')).read()
    assert not glob.glob(os.path.join(out, '.*tmp*')), 'no temp files left next to the textfile'
    samples = {}
    for line in prom.splitlines():
        if line.startswith('#') or not line.strip():
            continue
        metric, value = line.rsplit(' ', 1)
        samples[metric] = float(value)
    for case in farm.cases:
        r = by_name[case.kind]
        key = 'certpilot_tls_not_after_seconds{endpoint="%s",server_name="%s"}' % (case.kind, r['server_name'])
        assert samples[key] == int(case.leaf.not_valid_after_utc.timestamp())
        for st in order:
            assert samples['certpilot_tls_status{endpoint="%s",status="%s"}' % (case.kind, st)] == (
                1.0 if r['status'] == st else 0.0)
        assert samples['certpilot_tls_probe_success{endpoint="%s",server_name="%s"}' % (
            case.kind, r['server_name'])] == 1.0
    closed = '%s:%d' % (farm.closed_address, farm.closed_port)
    assert samples['certpilot_tls_probe_success{endpoint="%s",server_name="%s"}' % (closed, farm.closed_address)] == 0
    # HTML: self-contained and phone-friendly.
    html = io.open(os.path.join(out, 'tls-expiry.html')).read()
    assert '<meta name="viewport"' in html and '@media' in html
    assert 'http://' not in html and 'https://' not in html and '<link' not in html and '<script' not in html
    positions = [html.index('>%s</td>' % r['not_after']) for r in results if r['not_after'] and r['status'] == 'expired']
    assert positions and min(positions) < html.index('<span class="badge s-ok">')


def _decode_png(path):
    """8-bit RGB/RGBA, non-interlaced PNG -> (width, height, rows of bytes, channels)."""
    data = open(path, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    pos, idat, header = 8, b'', None
    while pos < len(data):
        length, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b'IHDR':
            header = struct.unpack('>IIBBBBB', body)
        elif kind == b'IDAT':
            idat += body
        pos += 12 + length
    width, height, depth, colour, _c, _f, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xff
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xff
            elif ftype == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 0xff
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xff
        rows.append(bytes(line))
        prev = line
    return width, height, rows, channels


def _colour_counts(path):
    width, height, rows, channels = _decode_png(path)
    counts = collections.Counter()
    for row in rows:
        for x in range(0, width * channels, channels):
            counts[tuple(row[x:x + 3])] += 1
    return counts


@pytest.mark.parametrize('size', [(1280, 2400), (390, 6000)])
def test_html_report_renders_with_status_colours(report, size):
    chromium = '/usr/bin/chromium'
    if not os.path.exists(chromium):
        pytest.fail('chromium is required for this test (Debian package chromium)')
    _run, out, _eps = report
    os.makedirs(ARTIFACTS, exist_ok=True)
    png = os.path.join(ARTIFACTS, 'tls-expiry-report-%dx%d.png' % size)
    if os.path.exists(png):
        os.unlink(png)
    profile = tempfile.mkdtemp(prefix='chromium-')
    try:
        proc = subprocess.run([chromium, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                               '--disable-background-networking', '--disable-component-update', '--disable-sync',
                               '--hide-scrollbars', '--force-device-scale-factor=1',
                               '--user-data-dir=%s' % profile, '--screenshot=%s' % png,
                               '--window-size=%d,%d' % size, 'file://%s/tls-expiry.html' % out],
                              capture_output=True, text=True, timeout=120, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert os.path.exists(png), proc.stderr[-2000:]
    counts = _colour_counts(png)
    data = json.load(open(os.path.join(out, 'tls-expiry.json')))
    present = set(r['status'] for r in data['results'])
    assert len(present) == 6, present  # the farm has every status
    for status in present:
        want = STATUS_COLOURS[status]
        hits = sum(n for rgb, n in counts.items() if all(abs(rgb[i] - want[i]) <= 3 for i in range(3)))
        assert hits > 200, 'status colour of %s (%r) not found in %s' % (status, want, png)


# ---------------------------------------------------------------------------- mail
def _mails_since(maildir, before):
    return sorted(set(glob.glob(os.path.join(maildir, '*.eml'))) - before)


def test_report_mailed_over_starttls_with_auth(run_playbook, farm, sandbox, tmp_path):
    smtp = sandbox['smtp']
    maildir = smtp['maildir']
    before = set(glob.glob(os.path.join(maildir, '*.eml')))
    extra = {'expiry_report_endpoints': farm.endpoints(['exp3', 'exp80', 'expired']),
             'expiry_report_dir': str(tmp_path), 'expiry_report_ca_bundle': farm.ca_bundle,
             'expiry_report_mail_enabled': True, 'expiry_report_mail_host': smtp['host'],
             'expiry_report_mail_port': smtp['starttls_port'], 'expiry_report_mail_security': 'starttls',
             'expiry_report_mail_username': smtp['user'], 'expiry_report_mail_password': smtp['password'],
             'expiry_report_mail_ca_bundle': smtp['ca'], 'expiry_report_mail_from': 'certpilot@example.test',
             'expiry_report_mail_to': ['ops@example.test']}
    run = run_playbook(ROLE_PLAYBOOK, extra_vars=extra, timeout=300)
    assert run.rc == 0, run.explain()
    assert smtp['password'] not in run.stdout + json.dumps(run.results)
    mails = _mails_since(maildir, before)
    assert len(mails) == 1, mails
    msg = email.message_from_bytes(open(mails[0], 'rb').read())
    assert msg['X-Sandbox-Auth'] == smtp['user']
    assert str(msg['X-Sandbox-Port']) == str(smtp['starttls_port'])
    assert '1 expired' in msg['Subject'] and '1 critical' in msg['Subject']
    parts = dict((p.get_content_type(), p) for p in msg.walk())
    assert 'exp3' in parts['text/plain'].get_payload(decode=True).decode()
    assert 'class="badge s-expired"' in parts['text/html'].get_payload(decode=True).decode()
    attachment = [p for p in msg.walk() if p.get_filename() == 'tls-expiry.csv'][0]
    rows = list(csv.DictReader(io.StringIO(attachment.get_payload(decode=True).decode())))
    assert sorted(r['name'] for r in rows) == ['exp3', 'exp80', 'expired']


def test_mail_body_holds_the_most_urgent_rows_and_the_csv_all(run_playbook, farm, sandbox, tmp_path):
    """The mail body is bounded (its text is a module argument, repeated in the task result); the CSV has every row."""
    smtp = sandbox['smtp']
    maildir = smtp['maildir']
    before = set(glob.glob(os.path.join(maildir, '*.eml')))
    extra = {'expiry_report_endpoints': farm.endpoints(['exp3', 'exp80', 'expired']),
             'expiry_report_dir': str(tmp_path), 'expiry_report_ca_bundle': farm.ca_bundle,
             'expiry_report_mail_enabled': True, 'expiry_report_mail_host': smtp['host'],
             'expiry_report_mail_port': smtp['port'], 'expiry_report_mail_security': 'none',
             'expiry_report_mail_from': 'certpilot@example.test', 'expiry_report_mail_to': ['ops@example.test'],
             'expiry_report_mail_max_rows': 1}
    run = run_playbook(ROLE_PLAYBOOK, extra_vars=extra, timeout=300)
    assert run.rc == 0, run.explain()
    mails = _mails_since(maildir, before)
    assert len(mails) == 1, mails
    msg = email.message_from_bytes(open(mails[0], 'rb').read())
    parts = dict((p.get_content_type(), p) for p in msg.walk())
    text = parts['text/plain'].get_payload(decode=True).decode()
    html = parts['text/html'].get_payload(decode=True).decode()
    assert '| expired | expired |' in text and '| exp3 |' not in text and '| exp80 |' not in text, text
    assert '2 more rows' in text and '2 more rows' in html
    assert html.count('<tr class="r-') == 1
    attachment = [p for p in msg.walk() if p.get_filename() == 'tls-expiry.csv'][0]
    rows = list(csv.DictReader(io.StringIO(attachment.get_payload(decode=True).decode())))
    assert sorted(r['name'] for r in rows) == ['exp3', 'exp80', 'expired']
    # The full Markdown report in the directory has every row.
    with open(str(tmp_path / 'tls-expiry.md')) as handle:
        report = handle.read()
    assert all('| %s |' % name in report for name in ('exp3', 'exp80', 'expired'))


def test_only_on_problems_sends_nothing_when_all_ok(run_playbook, farm, sandbox, tmp_path):
    smtp = sandbox['smtp']
    before = set(glob.glob(os.path.join(smtp['maildir'], '*.eml')))
    extra = {'expiry_report_endpoints': farm.endpoints(['exp80', 'f0001']), 'expiry_report_dir': str(tmp_path),
             'expiry_report_ca_bundle': farm.ca_bundle, 'expiry_report_mail_enabled': True,
             'expiry_report_only_on_problems': True, 'expiry_report_mail_host': smtp['host'],
             'expiry_report_mail_port': smtp['port'], 'expiry_report_mail_security': 'none',
             'expiry_report_mail_to': ['ops@example.test'], 'expiry_report_formats': ['json']}
    run = run_playbook(ROLE_PLAYBOOK, extra_vars=extra, timeout=300)
    assert run.rc == 0, run.explain()
    assert run.task_results('Mail the report')['localhost'].get('skipped') is True
    time.sleep(0.5)
    assert _mails_since(smtp['maildir'], before) == []
    # Same run with a problem endpoint on the plain port: mailed.
    extra['expiry_report_endpoints'] = farm.endpoints(['exp10'])
    run = run_playbook(ROLE_PLAYBOOK, extra_vars=extra, timeout=300)
    assert run.rc == 0, run.explain()
    deadline = time.monotonic() + 5
    while not _mails_since(smtp['maildir'], before) and time.monotonic() < deadline:
        time.sleep(0.1)
    mails = _mails_since(smtp['maildir'], before)
    assert len(mails) == 1
    assert '1 warning' in email.message_from_bytes(open(mails[0], 'rb').read())['Subject']


def test_role_check_mode_writes_nothing(farm_playbook, farm, tmp_path):
    out = str(tmp_path / 'never-created')
    extra = {'expiry_report_endpoints': farm.endpoints(['exp3', 'exp80']), 'expiry_report_dir': out,
             'expiry_report_ca_bundle': farm.ca_bundle, 'expiry_report_fail_on': 'warning',
             'expiry_report_prometheus_file': out + '/x.prom'}
    run = farm_playbook(ROLE_PLAYBOOK, extra_vars=extra, check=True)
    # The checks ran (read-only) and fail_on still turns the run red, but nothing was written.
    assert run.rc != 0
    facts = run.task_results('Check the certificates')['localhost']['tls_expiry']
    # The role's default return_results=problems: only exp3 (critical) comes back, the summary counts both.
    assert [(r['name'], r['status']) for r in facts['results']] == [('exp3', 'critical')]
    assert (facts['summary']['critical'], facts['summary']['ok'], facts['summary']['total']) == (1, 1, 2)
    assert facts['returned']['omitted'] == 1 and facts['returned']['problems'] == 1
    assert not os.path.exists(out)


def _report_playbook_run(farm_playbook, farm, kinds, tmp_path, extra=None):
    endpoints = [e for e in farm.endpoints() if e['name'] in kinds]
    assert len(endpoints) == len(kinds), (kinds, [e['name'] for e in endpoints])
    extra_vars = {'expiry_report_endpoints': endpoints, 'expiry_report_ca_bundle': farm.ca_bundle,
                  'expiry_report_dir': str(tmp_path / 'report'), 'expiry_report_timeout': TIMEOUT,
                  'expiry_report_formats': ['json', 'csv']}
    extra_vars.update(extra or {})
    return farm_playbook(os.path.join(REPO, 'playbooks', 'expiry_report.yml'), extra_vars=extra_vars, timeout=300)


def _summary_lines(run):
    return [line for line in run.stdout.splitlines() if 'certpilot TLS expiry:' in line and '"msg"' in line]


def test_report_playbook_is_red_on_expired_with_one_summary_line(farm_playbook, farm, tmp_path):
    run = _report_playbook_run(farm_playbook, farm, ['exp80', 'expired', 'exp10'], tmp_path)
    assert run.rc != 0, run.explain()
    lines = _summary_lines(run)
    assert len(lines) == 1, run.explain()
    assert '3 checked: 0 error, 1 expired, 0 invalid, 0 critical, 1 warning, 1 ok' in lines[0], lines[0]
    assert 'worst: expired (expired' in lines[0] and 'exp10 (warning' in lines[0], lines[0]
    assert 'exp80' not in lines[0].split('worst:')[1], lines[0]
    assert 'expiry_report_fail_on=error' in run.stdout, run.explain()
    # the report was written before the job turned red
    with open(str(tmp_path / 'report' / 'tls-expiry.json')) as handle:
        assert json.load(handle)['summary']['expired'] == 1


def test_report_playbook_green_when_all_ok_and_role_default_configurable(farm_playbook, farm, tmp_path):
    run = _report_playbook_run(farm_playbook, farm, ['exp80', 'private-plain'], tmp_path)
    assert run.rc == 0, run.explain()
    lines = _summary_lines(run)
    assert len(lines) == 1 and '2 checked: 0 error, 0 expired, 0 invalid, 0 critical, 0 warning, 2 ok' in lines[0]
    run = _report_playbook_run(farm_playbook, farm, ['expired'], tmp_path, {'expiry_report_fail_on': 'never'})
    assert run.rc == 0, run.explain()
    assert '1 expired' in _summary_lines(run)[0]


@pytest.mark.parametrize('awx_vars, suffix', [
    # What AWX passes a job that runs inside a workflow job (every slice of a sliced job does): no slice number.
    ({'awx_job_id': 4711, 'awx_workflow_job_id': 4709, 'awx_job_template_name': 'certpilot expiry report',
      'tower_job_id': 4711, 'tower_workflow_job_id': 4709}, '-job4711'),
    ({'awx_job_id': 4712, 'awx_workflow_job_id': 4709, 'awx_job_slice_number': 2, 'awx_job_slice_count': 4},
     '-slice2of4'),
    # A plain job (no workflow): the plain names.
    ({'awx_job_id': 4713, 'awx_job_template_name': 'certpilot expiry report'}, ''),
])
def test_report_names_carry_the_awx_job_or_slice(farm_playbook, farm, tmp_path, awx_vars, suffix):
    # expiry_report_prometheus_file keeps the role's default (in expiry_report_dir, with the suffix).
    run = _report_playbook_run(farm_playbook, farm, ['exp80'], tmp_path,
                               dict(awx_vars, expiry_report_formats=['json', 'csv', 'prometheus'],
                                    expiry_report_fail_on='never'))
    assert run.rc == 0, run.explain()
    names = sorted(os.listdir(str(tmp_path / 'report')))
    assert names == sorted(['tls-expiry%s.json' % suffix, 'tls-expiry%s.csv' % suffix,
                            'certpilot_tls%s.prom' % suffix]), (names, run.explain())


def _prom_series(path):
    """Every series (name and labels) of a textfile-collector file, as written."""
    with open(path) as handle:
        return [line.rsplit(' ', 1)[0] for line in handle.read().splitlines() if line and not line.startswith('#')]


def test_slices_write_prometheus_files_that_never_repeat_a_series(farm_playbook, farm, tmp_path):
    """Two slices of one sliced job, each with its part of the endpoints, into one textfile directory:
    node_exporter refuses a series that two files repeat, so none may."""
    for number, kinds in ((1, ['exp80']), (2, ['expired'])):
        run = _report_playbook_run(farm_playbook, farm, kinds, tmp_path, {
            'awx_job_id': 4800 + number, 'awx_workflow_job_id': 4800, 'awx_job_slice_number': number,
            'awx_job_slice_count': 2, 'expiry_report_formats': ['prometheus'], 'expiry_report_fail_on': 'never'})
        assert run.rc == 0, run.explain()
    report = tmp_path / 'report'
    files = sorted(os.listdir(str(report)))
    assert files == ['certpilot_tls-slice1of2.prom', 'certpilot_tls-slice2of2.prom'], files
    series = [s for name in files for s in _prom_series(str(report / name))]
    assert series and len(series) == len(set(series)), [s for s in series if series.count(s) > 1]
    assert 'certpilot_tls_last_check_seconds{report="tls-expiry-slice2of2"}' in series
