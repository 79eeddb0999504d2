# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""slb_listener_certificate's own branch: the switched / unchanged / failed_targets labels of its results."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certpilot.tls.plugins.modules import slb_listener_certificate


def _result(lb_id, port, domain=None, changed=False, failed=False, name=None):
    return {'load_balancer_id': lb_id, 'load_balancer_name': name, 'listener_port': port, 'domain': domain,
            'changed': changed, 'failed': failed}


def test_results_are_labelled_and_sorted_in_input_order():
    results = [_result('lb-1', 443, changed=True), _result('lb-1', 443, 'www.example.com'),
               _result(None, 8443, 'api.example.com', failed=True, name='web-prod'),
               _result('lb-2', 8443, 'shop.example.com', changed=True), _result('lb-2', 443)]
    lists = slb_listener_certificate.outcome(results)
    assert lists == {'switched': ['lb-1:443', 'lb-2:8443/shop.example.com'],
                     'unchanged': ['lb-1:443/www.example.com', 'lb-2:443'],
                     'failed_targets': ['web-prod:8443/api.example.com']}
    assert [r['label'] for r in results] == ['lb-1:443', 'lb-1:443/www.example.com', 'web-prod:8443/api.example.com',
                                             'lb-2:8443/shop.example.com', 'lb-2:443']


def test_a_failed_target_is_failed_even_when_marked_changed():
    lists = slb_listener_certificate.outcome([_result('lb-1', 443, changed=True, failed=True)])
    assert lists == {'switched': [], 'unchanged': [], 'failed_targets': ['lb-1:443']}


def test_no_results_no_labels():
    assert slb_listener_certificate.outcome([]) == {'switched': [], 'unchanged': [], 'failed_targets': []}
