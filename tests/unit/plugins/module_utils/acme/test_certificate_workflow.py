# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme/certificate_workflow.py: what OrderRunner and Finalizer share, on its own."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError, DeadlineExceeded
from ansible_collections.certpilot.tls.plugins.module_utils.acme import certificate_workflow as workflow
from ansible_collections.certpilot.tls.plugins.module_utils.acme.client import AcmeClient
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import AcmeProblem, OrderFailed, OrderInvalid, ValidationFailed

NS = 'urn:ietf:params:acme:error:'

pytestmark = pytest.mark.timeout(60)


def _problem(ptype, status):
    return AcmeProblem({'type': NS + ptype, 'detail': 'x'}, status=status)


@pytest.mark.parametrize('exc, expected', [
    (OrderFailed('www: the order is valid'), True),
    (OrderInvalid({'type': NS + 'connection', 'detail': 'refused'}), True),    # no HTTP status: still the order's end
    (ValidationFailed({'type': NS + 'incorrectResponse', 'detail': 'got 404'}), True),
    (_problem('badCSR', 400), True),
    (_problem('unauthorized', 403), True),
    (_problem('malformed', '400'), True),
    (_problem('badNonce', 400), False),            # the client retries those; one that gets through is transient
    (_problem('rateLimited', 429), False),
    (_problem('serverInternal', 500), False),
    (_problem('malformed', None), False),
    (CertpilotError('no route to host'), False),
    (DeadlineExceeded('took too long'), False),
])
def test_fails_the_order(exc, expected):
    assert workflow.fails_the_order(exc) is expected


@pytest.mark.parametrize('concurrency, threads', [(1, 4), (10, 40), (0, 4), ('3', 12)])
def test_workflow_threads(concurrency, threads):
    assert workflow.workflow_threads(concurrency) == threads == max(1, int(concurrency)) * workflow.WORKFLOWS_PER_SLOT


def test_no_account_key_in_check_mode(tmp_path):
    holder = workflow.CertificateWorkflow(AcmeClient('https://ca.invalid/dir'), None, str(tmp_path)).account
    assert holder.get(required=False) is None
    with pytest.raises(CertpilotError, match='no account key yet'):
        holder.get(required=True)


def test_warnings_failures_and_the_current_certificate(tmp_path):
    work = workflow.CertificateWorkflow(AcmeClient('https://ca.invalid/dir'), None, str(tmp_path / 'store'))
    work.warn('one')
    work.warn('two')
    assert work.warnings == ['one', 'two']
    entry = work.failure('www', _problem('badCSR', 400), 'order')
    assert entry['reason'] == 'ca-problem' and entry['stage'] == 'order' and entry['retry_at'] is None
    assert work.rate_limited('www', 'order') is None
    assert work.current_not_after('www') is None
    assert workflow.cert_facts(work.store, 'www') == (None, {'not_after': None})
