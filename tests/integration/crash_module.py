# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run an acme_* module of the collection with a fault at one precise stage (test-only; no hook in the product).

Usage: python crash_module.py MODULE STAGE ACTION ARGS_JSON

MODULE  acme_finalize or acme_order (plugins/modules/<MODULE>.py, its real main())
STAGE   the real call after which the fault happens:
        order     acme_finalize read the stored order, before it sends anything for it (it no longer
                  fetches the order first: it answers the stored challenge URLs directly)
        answer    a challenge was answered
        finalize  the finalize request was answered
        download  the certificate chain was downloaded (before anything is installed)
        generation  the new generation directory is complete on disk, not switched in yet
        switch    ``current`` was switched to the new generation (before pruning and order.json)
        none      no fault
ACTION  kill          SIGKILL this process (no cleanup of any kind runs, like kill -9)
        signal:SIG:PID  send SIG (e.g. STOP, TERM) to PID, then carry on
        run:CMD       run the shell command CMD (bounded to 120 s), then carry on
ARGS_JSON  a file with the module arguments

The module's JSON result goes to stdout as with Ansible; the wrapper only patches functions
the module calls and then runs the module's main().
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib
import json
import os
import signal
import subprocess
import sys

from ansible_collections.certpilot.tls.plugins.module_utils.acme import generations
from ansible_collections.certpilot.tls.plugins.module_utils.acme import orders
from ansible_collections.certpilot.tls.plugins.module_utils.acme import store

STAGES = {
    # CertStore.load_order(self, name) returning a pending order: the state "after order" at the CA
    'order': (store.CertStore, 'load_order', None),
    'answer': (orders.OrderApi, 'answer', None),
    'finalize': (orders.OrderApi, 'finalize', None),
    'download': (orders.OrderApi, 'download', None),
    'generation': (generations, 'write_generation', None),
    'switch': (generations, 'switch', None),
}


def fault(action):
    if action == 'kill':
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    elif action.startswith('signal:'):
        _tag, name, pid = action.split(':', 2)
        os.kill(int(pid), getattr(signal, 'SIG' + name))
    elif action.startswith('run:'):
        subprocess.run(action[4:], shell=True, check=True, timeout=120,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        raise SystemExit('unknown action %r' % action)


def patch(stage, action):
    owner, attr, wanted = STAGES[stage]
    real = getattr(owner, attr)
    done = []

    def wrapped(*args, **kwargs):
        result = real(*args, **kwargs)
        if not done and (wanted is None or wanted(args, kwargs)):
            done.append(True)  # once: the fault is one event at one point
            fault(action)
        return result
    setattr(owner, attr, wrapped)


def main():
    module_name, stage, action, args_file = sys.argv[1:5]
    with open(args_file) as handle:
        args = json.load(handle)
    if stage != 'none':
        patch(stage, action)
    # the documented way to run a module by hand: python module.py ARGS_FILE ({"ANSIBLE_MODULE_ARGS": {...}})
    module_args = args_file + '.module'
    with open(module_args, 'w') as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, handle)
    sys.argv = [module_name, module_args]
    module = importlib.import_module('ansible_collections.certpilot.tls.plugins.modules.%s' % module_name)
    module.main()


if __name__ == '__main__':
    main()
