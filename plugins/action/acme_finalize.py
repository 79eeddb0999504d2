# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of certpilot.tls.acme_finalize: runs the module, with watched progress on long runs.

See plugins/plugin_utils/progress.py and "Watching long runs" in README.md.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certpilot.tls.plugins.plugin_utils.progress import ProgressAction


class ActionModule(ProgressAction):
    ITEM_ARGS = ('names',)
    BULK_FILE_ARGS = ()
    ALL_WHEN_OMITTED = ('names',)
