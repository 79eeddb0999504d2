# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``tls_expiry_facts`` returns, and the full results written to a file, at any scale.

A task result travels to the controller as one JSON document, and AWX drops a job event over
700,000 bytes (``res: {}``). With thousands of endpoints the full results are far larger, so
the module can write them to a file (atomically, with its final mode from the start) and
return only a bounded part:

- ``full``: every result, in input order (the default; fine for tens or hundreds of endpoints);
- ``problems``: the results that need attention (status not ``ok``, or an ``expect`` mismatch),
  most urgent first, cut to fit ``max_bytes`` of JSON;
- ``summary``: no results, only the summary (counts, the worst five, the summary line);
- ``mismatches``: for a deploy's check of what is served: only the results whose ``expect`` did
  not match (or that had no ``expect``), and the names of those that matched in
  ``returned.matched``, so that a caller can prove every endpoint without the full results.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.files import atomic_write_stream
from ansible_collections.certpilot.tls.plugins.module_utils.tls import judge

RETURN_MODES = ('full', 'problems', 'summary', 'mismatches')
DEFAULT_MAX_BYTES = 150000
ENDPOINTS_FILE_MAX_BYTES = 64 * 1024 * 1024


def is_problem(result):
    """A result that needs attention: any status but ok, or a served certificate that is not the expected one."""
    return result.get('status') != 'ok' or result.get('expect_match') is False


def urgency(result):
    """Sort key: most severe status first, then fewest days left (no days, as for errors, first)."""
    days = result.get('days_remaining')
    return (-judge.SEVERITY[result['status']], days if days is not None else float('-inf'))


def urgency_order(results):
    """Positions in ``results``, most urgent first (stable: equal urgency keeps the input order)."""
    return sorted(range(len(results)), key=lambda position: urgency(results[position]))


def by_urgency(results):
    """The results most urgent first (stable: equal urgency keeps the input order)."""
    return [results[position] for position in urgency_order(results)]


def json_size(value):
    return len(json.dumps(value, separators=(',', ':'), sort_keys=True))


def shape(facts, mode='full', max_bytes=DEFAULT_MAX_BYTES, results_file=None):
    """The facts to return for ``mode``: every key of ``facts``, with ``results`` reduced, plus ``returned``.

    ``urgency_order`` is recomputed for the results returned (positions in the returned list).

    ``returned`` says what was left out: ``mode``, ``results`` (how many are returned),
    ``omitted`` (how many are not), ``problems`` (how many need attention) and ``results_file``;
    with ``mismatches`` also ``matched``, the names of the results whose ``expect`` matched.
    """
    if mode not in RETURN_MODES:
        raise CertpilotError('return_results must be one of %s, got %r' % (', '.join(RETURN_MODES), mode))
    if max_bytes is None or int(max_bytes) < 1:
        raise CertpilotError('return_max_bytes must be >= 1, got %r' % (max_bytes,))
    results = facts['results']
    problems = [r for r in results if is_problem(r)]
    matched = None
    if mode == 'full':
        picked = list(results)
    elif mode == 'summary':
        picked = []
    elif mode == 'mismatches':
        picked, matched = [], []
        for result in results:
            if result.get('expect_match') is True:
                matched.append(result['name'])
            else:
                picked.append(result)
    else:
        picked = []
        budget = int(max_bytes)
        for result in by_urgency(problems):
            size = json_size(result) + 1
            if size > budget:
                break
            budget -= size
            picked.append(result)
    out = dict((key, value) for key, value in facts.items() if key != 'results')
    out['results'] = picked
    out['urgency_order'] = urgency_order(picked)
    out['returned'] = {
        'mode': mode,
        'results': len(picked),
        'omitted': len(results) - len(picked),
        'problems': len(problems),
        'results_file': results_file,
    }
    if matched is not None:
        out['returned']['matched'] = matched
    return out


def parse_mode(value, where='results_file_mode'):
    """An octal string (``'0640'``) or an int to a permission mode; owner read-write at least, never executable."""
    if isinstance(value, bool):
        raise CertpilotError('%s: expected an octal mode such as 0640, got %r' % (where, value))
    try:
        mode = int(value, 8) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise CertpilotError('%s: expected an octal mode such as 0640, got %r' % (where, value))
    if mode & ~0o666 or (mode & 0o600) != 0o600:
        raise CertpilotError('%s: %s is not a file mode for a results file (0600 to 0666, no execute bits)' % (
            where, oct(mode)))
    return mode


def write_results_file(path, facts, mode=0o640):
    """Write the full ``facts`` as JSON to ``path``: temp file with ``mode`` from the start, fsync, rename.

    A reader sees the previous file or the new one, never half of one. A symlink at ``path`` is
    replaced, never written through.
    """
    if not path:
        raise CertpilotError('results_file must not be empty')
    if os.path.isdir(path):
        raise CertpilotError('results_file %s is a directory' % path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CertpilotError('results_file %s: directory %s does not exist' % (path, directory))
    counter = {'bytes': 0}

    def write(handle):
        # Streamed: 50,000 results are about 100 MB of JSON, never held as one string (nor twice).
        pending, size = [], 0
        for chunk in json.JSONEncoder(indent=1, sort_keys=True).iterencode(facts):
            pending.append(chunk)
            size += len(chunk)
            if size >= 65536:
                data = ''.join(pending).encode('utf-8')
                counter['bytes'] += len(data)
                handle.write(data)
                pending, size = [], 0
        pending.append('\n')
        data = ''.join(pending).encode('utf-8')
        counter['bytes'] += len(data)
        handle.write(data)

    try:
        atomic_write_stream(path, write, mode=mode)
    except (IOError, OSError) as exc:
        raise CertpilotError('cannot write results_file %s: %s' % (path, exc.strerror or exc))
    return counter['bytes']


def read_endpoints_file(path, reader=None):
    """The endpoints listed in a JSON file (a list, entries as for ``endpoints``)."""
    try:
        if reader is not None:
            data = reader(path)
        else:
            size = os.path.getsize(path)
            if size > ENDPOINTS_FILE_MAX_BYTES:
                raise CertpilotError('endpoints_file %s is %d bytes, more than the %d allowed' % (
                    path, size, ENDPOINTS_FILE_MAX_BYTES))
            with open(path, 'rb') as handle:
                data = handle.read(ENDPOINTS_FILE_MAX_BYTES + 1)
    except (IOError, OSError) as exc:
        raise CertpilotError('cannot read endpoints_file %s: %s' % (path, exc.strerror or exc))
    try:
        items = json.loads(data.decode('utf-8') if isinstance(data, bytes) else data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CertpilotError('endpoints_file %s is not JSON: %s' % (path, exc))
    if not isinstance(items, list):
        raise CertpilotError('endpoints_file %s: expected a JSON list of endpoints, got %s' % (
            path, type(items).__name__))
    return items
