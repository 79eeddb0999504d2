# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared by the store crash, migration and concurrency tests: playbooks, the module wrapper, pebble's order list, set checks."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.acme.account import Account
from ansible_collections.certpilot.tls.plugins.module_utils.acme.client import AcmeClient
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import AcmeKey

HERE = os.path.dirname(os.path.abspath(__file__))
WRAPPER = os.path.join(HERE, 'crash_module.py')
PUBLIC = ('cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem')

# The plays of the ACME tests, from their parts: one play on localhost whose ACME connection options come from
# module_defaults (the action group), and the usual tasks. Option values are YAML text, as in a playbook.
PLAY = """
- name: %(name)s
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/certpilot.tls.acme:
      acme_directory: "{{ acme_directory }}"
      ca_bundle: "{{ acme_ca_bundle }}"
%(account_key)s%(timeout)s  tasks:
%(tasks)s"""

CHALLENGE_FILES = """    - name: Challenge files
      ansible.builtin.copy:
        dest: "{{ webroot }}/{{ item.path }}"
        content: "{{ %s }}"
        mode: "0644"
      loop: "{{ order.challenges }}"
      loop_control:
        label: "{{ item.identifier }}"
"""


def acme_play(name, tasks, timeout=None, account_key=True):
    """A playbook of one play ``name`` running ``tasks`` (task texts) with the ACME options as module_defaults:
    the directory, its CA bundle, the account key (unless not ``account_key``) and ``timeout`` (seconds) if given."""
    return PLAY % {'name': name, 'tasks': ''.join(tasks),
                   'account_key': '      account_key_src: "{{ account_key }}"\n' if account_key else '',
                   'timeout': '      timeout: %d\n' % timeout if timeout is not None else ''}


def task(name, module, options=(), **keywords):
    """One task: ``module`` with ``options`` ([(option, YAML value)], in order), then the task ``keywords``."""
    lines = ['    - name: %s' % name, '      %s:' % module]
    lines += ['        %s: %s' % option for option in options]
    lines += ['      %s: %s' % keyword for keyword in keywords.items()]
    return '\n'.join(lines) + '\n'


def account_task(*options, **keywords):
    return task('Account', 'certpilot.tls.acme_account', (('generate_account_key', 'true'), ('terms_agreed', 'true'))
                + options, **keywords)


def order_task(*options):
    """The Order task, registered as ``order`` (what CHALLENGE_FILES and Challenges read)."""
    return task('Order', 'certpilot.tls.acme_order',
                (('store', '"{{ store }}"'), ('certificates', '"{{ certificates }}"')) + options, register='order')


def challenge_files_task(content='item.key_authorization'):
    """Copies each challenge of the Order task into web1's webroot; ``content`` is the Jinja expression written."""
    return CHALLENGE_FILES % content


def finalize_task(*options, **keywords):
    return task('Finalize', 'certpilot.tls.acme_finalize', (('store', '"{{ store }}"'),) + options, **keywords)


ORDER = acme_play('ACME order', [account_task(),
                                 order_task(('force', '"{{ force | default(false) }}"'), ('lock_timeout', '30')),
                                 challenge_files_task()], timeout=120)

FINALIZE = acme_play('ACME finalize', [finalize_task(('lock_timeout', '30'),
                                                     ('archive_keep', '"{{ archive_keep | default(3) }}"'))],
                     timeout=120)


def playbook_vars(sandbox, tmp_path, store, certificates):
    return {
        'acme_directory': sandbox['acme']['directory'],
        'acme_ca_bundle': sandbox['acme']['ca_bundle'],
        'account_key': str(tmp_path / 'account.key'),
        'store': str(store),
        'certificates': certificates,
        'webroot': sandbox['hosts']['web1']['webroot'],
    }


class Challenges(object):
    """Remembers the challenge files the Order task wrote into web1's webroot, and removes them."""

    def __init__(self, sandbox):
        self.directory = os.path.join(sandbox['hosts']['web1']['webroot'], '.well-known', 'acme-challenge')
        self.tokens = set()

    def note(self, result):
        try:
            for challenge in result.task_results('Order')['localhost'].get('challenges', []):
                self.tokens.add(challenge['token'])
        except (KeyError, TypeError, AttributeError):
            pass  # a run that failed before its Order task wrote no file
        return result

    def remove(self):
        for token in self.tokens:
            try:
                os.unlink(os.path.join(self.directory, token))
            except OSError:
                pass  # already gone


def tracking(run_playbook, sandbox):
    """The body of a ``run_playbook`` fixture (``yield from tracking(run_playbook, sandbox)``): the conftest
    ``run_playbook``, and the challenge files its Order tasks published removed afterwards, even on failure."""
    tracker = Challenges(sandbox)

    def _run(*args, **kwargs):
        return tracker.note(run_playbook(*args, **kwargs))
    yield _run
    tracker.remove()


def run_module(collection_env, module, stage, action, args, tmp_path, timeout=300):
    """Run ``module`` through crash_module.py; returns (returncode, parsed JSON or None, stdout, stderr, seconds)."""
    args_file = str(tmp_path / ('%s-%s-args.json' % (module, stage)))
    with open(args_file, 'w') as handle:
        json.dump(args, handle)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, WRAPPER, module, stage, action, args_file], env=dict(collection_env),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout,
                          check=False)
    seconds = time.monotonic() - started
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        result = None
    return proc.returncode, result, proc.stdout, proc.stderr, seconds


def finalize_args(extra, **more):
    args = {'acme_directory': extra['acme_directory'], 'ca_bundle': extra['acme_ca_bundle'],
            'account_key_src': extra['account_key'], 'store': extra['store'], 'timeout': 120, 'lock_timeout': 30}
    args.update(more)
    return args


def order_urls(sandbox, key_path):
    """Every order URL pebble lists for the account of ``key_path`` (what the CA really created)."""
    with open(key_path, 'rb') as handle:
        key = AcmeKey.from_pem(handle.read())
    client = AcmeClient(sandbox['acme']['directory'], verify=sandbox['acme']['ca_bundle'], deadline=Deadline(60))
    account = Account(client, key).find()
    assert account is not None, 'the account must exist'
    urls, page, seen = [], account.data['orders'], set()
    while page and page not in seen:  # pebble pages the list
        seen.add(page)
        resp = client.post_as_get(page)
        urls.extend(json.loads(resp.content.decode('utf-8')).get('orders') or [])
        nxt = resp.links('next')
        page = nxt[0] if nxt else None
    return sorted(urls)


def order_status(sandbox, key_path, url):
    """The status pebble gives the order at ``url`` (fetched as the account of ``key_path``)."""
    with open(key_path, 'rb') as handle:
        key = AcmeKey.from_pem(handle.read())
    client = AcmeClient(sandbox['acme']['directory'], verify=sandbox['acme']['ca_bundle'], deadline=Deadline(60))
    assert Account(client, key).find() is not None, 'the account must exist'
    return json.loads(client.post_as_get(url).content.decode('utf-8'))['status']


def public_key_der(obj):
    """The SubjectPublicKeyInfo DER of a certificate or a private key (to tell whether they belong together)."""
    return obj.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def read_set(folder):
    """{fname: bytes} read through the public paths."""
    out = {}
    for fname in PUBLIC:
        with open(os.path.join(folder, fname), 'rb') as handle:
            out[fname] = handle.read()
    return out


def check_set(folder):
    """The four public files form one consistent set; returns the certificate serial (hex)."""
    files = read_set(folder)
    generations = set(os.path.dirname(os.path.realpath(os.path.join(folder, f))) for f in PUBLIC)
    assert len(generations) == 1, 'the public files of %s come from different directories: %s' % (folder, generations)
    leaf = x509.load_pem_x509_certificate(files['cert.pem'])
    key = serialization.load_pem_private_key(files['privkey.pem'], None)
    assert public_key_der(leaf) == public_key_der(key), '%s: the stored certificate does not match its key' % folder
    assert files['fullchain.pem'] == files['cert.pem'] + files['chain.pem'], '%s: fullchain is not cert + chain' % folder
    chain = x509.load_pem_x509_certificates(files['chain.pem'])
    assert chain and chain[0].subject == leaf.issuer, '%s: chain.pem does not start with the issuer of cert.pem' % folder
    mode = os.stat(os.path.join(folder, 'privkey.pem')).st_mode & 0o777
    assert mode == 0o600, '%s: privkey.pem mode %o' % (folder, mode)
    return '%x' % leaf.serial_number


def generation_entries(folder):
    return sorted(os.listdir(os.path.join(folder, 'generations')))
