# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  acme_directory:
    description:
      - URL of the ACME directory, for example U(https://acme-staging-v02.api.letsencrypt.org/directory)
        or U(https://acme-v02.api.letsencrypt.org/directory).
    type: str
    required: true
  account_key_src:
    description:
      - Path to the ACME account private key (PEM, EC P-256/P-384 or RSA 2048-4096) on the host running the module.
      - Mutually exclusive with O(account_key_content).
    type: path
  account_key_content:
    description:
      - The ACME account private key as a PEM string.
      - Mutually exclusive with O(account_key_src).
    type: str
  account_key_passphrase:
    description:
      - Passphrase of an encrypted account key.
    type: str
  validate_certs:
    description:
      - Verify the TLS certificate of the ACME server. Only disable for throw-away tests.
    type: bool
    default: true
  ca_bundle:
    description:
      - PEM file of CA certificates to verify the ACME server with (private CAs, pebble).
      - When unset the system trust store of C(requests) is used.
    type: path
  timeout:
    description:
      - Overall deadline in seconds for everything this task does with the ACME server
        (every request, retry, back-off and poll draws from it).
      - When the server asks to come back later than this allows, the task fails at once
        saying when to retry.
    type: int
    default: 300
notes:
  - Uses one keep-alive HTTP session per ACME server, reuses every C(Replay-Nonce) the server sends,
    retries C(badNonce) (bounded), and retries HTTP 429/5xx and connection errors with back-off honouring C(Retry-After).
requirements:
  - requests
  - cryptography >= 41
attributes:
  action_group:
    description: Use C(group/certpilot.tls.acme) in C(module_defaults) to set the options above once for every module of the group.
    support: full
    membership:
      - certpilot.tls.acme
'''

    # The store lock of the modules that work on a certificate store (acme_order, acme_finalize).
    STORE_LOCK = r'''
options:
  lock_timeout:
    description:
      - Seconds to wait for another run that holds the O(store) (its exclusive lock file C(<store>/.lock)) before
        failing with the holder's pid, host and start time. V(0) fails at once.
      - The lock is held for the whole module run; check mode takes a shared lock. A lock left by a run that is
        gone is taken over with a warning. A lock that cannot be taken (for example a read-only store) fails the task.
    type: int
    default: 300
'''
