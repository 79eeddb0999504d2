# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of certpilot.tls.cert_files: runs the module, with watched progress on long runs.

A file costs about a millisecond, and a watched run costs a few seconds more (the module runs with ``async``
and the controller polls the host), so a run is watched from ``certpilot_progress_threshold`` files: 4000 here
(about 1000 certificates with chain, key and server block; 2000 files took 5 s unwatched on three sandbox hosts
and 10 s watched). See plugins/plugin_utils/progress.py and "Watching long runs" in README.md.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certpilot.tls.plugins.plugin_utils.progress import ProgressAction


class ActionModule(ProgressAction):
    ITEM_ARGS = ('files',)
    BULK_FILE_ARGS = ()
    OWN_DEFAULTS = {'certpilot_progress_threshold': 4000}
