# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every acme_* module run does around its work: the connection options (argument spec, account key
rules, the store options), the required libraries, the account key, the ACME client, the store lock for the run, and its timings."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import atexit
import os
import time

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme import jws
from ansible_collections.certpilot.tls.plugins.module_utils.acme import client as clientlib
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store_lock import StoreLock


def common_argument_spec():
    return dict(
        acme_directory=dict(type='str', required=True),
        account_key_src=dict(type='path'),
        account_key_content=dict(type='str', no_log=True),
        account_key_passphrase=dict(type='str', no_log=True),
        validate_certs=dict(type='bool', default=True),
        ca_bundle=dict(type='path'),
        timeout=dict(type='int', default=300),
    )


# The two ways to give the account key: never both (every acme_* module); one of them is required
# (``account_key_required``) except in acme_revoke, which needs it only to revoke with the account key.
ACCOUNT_KEY_OPTIONS = ('account_key_src', 'account_key_content')


def store_argument_spec(store_required=True):
    """The options of the modules that work on a certificate store: the store, its lock, concurrency, failures."""
    return dict(
        store=dict(type='path', required=True) if store_required else dict(type='path'),
        lock_timeout=dict(type='int', default=300),
        concurrency=dict(type='int', default=10),
        fail_on_error=dict(type='bool', default=True),
    )


def module_kwargs(options, account_key_required=True, mutually_exclusive=(), required_one_of=(), **rules):
    """The ``AnsibleModule(**kwargs)`` of an acme_* module: the connection options plus ``options``, check mode,
    the account key rules (:data:`ACCOUNT_KEY_OPTIONS` mutually exclusive, and required with
    ``account_key_required``), then the module's own ``mutually_exclusive`` / ``required_one_of`` and any other
    rule (``required_if``, ``required_by``, ...) as given."""
    argument_spec = common_argument_spec()
    argument_spec.update(options)
    kwargs = dict(argument_spec=argument_spec, supports_check_mode=True,
                  mutually_exclusive=[ACCOUNT_KEY_OPTIONS] + list(mutually_exclusive))
    required = ([ACCOUNT_KEY_OPTIONS] if account_key_required else []) + list(required_one_of)
    if required:
        kwargs['required_one_of'] = required
    kwargs.update(rules)
    return kwargs


def missing_libs():
    """[(library name, import error)] of what is not installed."""
    missing = []
    if not clientlib.HAS_REQUESTS:
        missing.append(('requests', clientlib.REQUESTS_IMPORT_ERROR))
    if not jws.HAS_CRYPTOGRAPHY:
        missing.append(('cryptography', jws.CRYPTOGRAPHY_IMPORT_ERROR))
    return missing


def read_key_file(path, passphrase, what):
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        raise CertpilotError('cannot read %s %s: %s' % (what, path, exc.strerror or exc))
    return jws.AcmeKey.from_pem(data, passphrase, what)


def load_key(params, src='account_key_src', content='account_key_content', passphrase='account_key_passphrase',
             what='account key', allow_missing=False):
    """The key from the options; with ``allow_missing`` (check mode) a missing key file gives None
    (an earlier acme_account task would have generated it)."""
    if params.get(content):
        return jws.AcmeKey.from_pem(params[content], params.get(passphrase), what)
    if params.get(src):
        if allow_missing and not os.path.exists(params[src]):
            return None
        return read_key_file(params[src], params.get(passphrase), what)
    return None


def make_client(params, pool_size=10):
    if params['timeout'] is not None and params['timeout'] <= 0:
        raise CertpilotError('timeout must be a positive number of seconds')
    verify = params['validate_certs']
    if verify and params.get('ca_bundle'):
        if not os.path.isfile(params['ca_bundle']):
            raise CertpilotError('ca_bundle %s does not exist' % params['ca_bundle'])
        verify = params['ca_bundle']
    if not verify:
        try:
            import urllib3
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        except Exception:  # pragma: no cover - cosmetic only
            pass
    directory = params['acme_directory']
    if not directory.startswith('https://') and not directory.startswith('http://'):
        raise CertpilotError('acme_directory must be an https:// URL, got %r' % directory)
    return clientlib.AcmeClient(directory, verify=verify, deadline=Deadline(params['timeout']), pool_size=pool_size,
                                max_in_flight=pool_size)


def hold_store_lock(module, store, timeout):
    """Take the store lock for the rest of the module run (shared in check mode); released when the module exits.

    A lock that cannot be taken in ``timeout`` seconds raises CertpilotError naming the holder.
    """
    lock = StoreLock(store, shared=module.check_mode, timeout=timeout, warn=module.warn)
    atexit.register(lock.release)  # held until exit_json/fail_json end the run
    lock.acquire()
    return lock


def take_timings(results, started):
    """Move each result's ``seconds`` into one ``timings`` dict (plus ``total`` since ``started``)."""
    timings = {}
    for name, result in results.items():
        seconds = result.pop('seconds', None)
        if seconds is not None:
            timings[name] = seconds
    timings['total'] = round(time.monotonic() - started, 3)
    return timings
