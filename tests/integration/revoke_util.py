# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared by the revocation tests (test_acme_revoke, test_docs_examples): an issuing playbook and pebble's view."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import requests

from acme_store_util import acme_play, account_task, challenge_files_task, finalize_task, order_task  # noqa: E402

ISSUE = acme_play('Issue certificates', [account_task(), order_task(), challenge_files_task(), finalize_task()],
                  timeout=120)


class Pebble(object):
    def __init__(self, sandbox):
        self.management = sandbox['acme']['management']
        self.ca_bundle = sandbox['acme']['ca_bundle']
        self.log = os.path.join(sandbox['dir'], 'logs', 'pebble.log')

    def status(self, serial):
        """pebble's record of the certificate ``serial`` (hex): Status (Valid/Revoked) and Reason."""
        resp = requests.get('%s/cert-status-by-serial/%s' % (self.management, serial), verify=self.ca_bundle,
                            timeout=10)
        assert resp.status_code == 200, 'pebble does not know the serial %s: HTTP %s' % (serial, resp.status_code)
        return resp.json()

    def revoke_requests(self):
        """How many revokeCert requests pebble has received (its request log)."""
        with open(self.log, errors='replace') as handle:
            return sum(1 for line in handle if 'POST /revoke-cert' in line)
