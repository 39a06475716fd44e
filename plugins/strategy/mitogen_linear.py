"""Ansible strategy plugin: Mitogen's ``linear`` strategy, from the installed ``mitogen`` package.

Mitogen keeps one Python interpreter per host for the whole run and sends modules over its own
channel instead of an SSH round trip, a file upload and a fresh interpreter per task; a
converged site rollout (about 150 tasks on the router, the NVR through the router and central)
takes a third of the time with it (``bench/rollout.py``). Ansible finds strategy plugins only
in folders, so this file exposes Mitogen's under ``plugins/strategy`` (ansible.cfg), whatever
virtualenv the ``mitogen`` package is installed in.

The lab's cameras (``ansible_connection: podman``) go through Mitogen's podman transport;
connections Mitogen does not handle (e.g. ``containers.podman.podman`` by its full name) run
with Ansible's own plugins. ``ANSIBLE_STRATEGY=linear`` runs a playbook without Mitogen.
"""

from __future__ import annotations

import ansible_mitogen.loaders
import ansible_mitogen.strategy

DOCUMENTATION = r"""
name: mitogen_linear
short_description: Ansible's linear strategy over Mitogen connections
description:
  - Ansible's C(linear) strategy with Mitogen's connection and module runner (package C(mitogen)).
author: camops maintainers
"""

_Linear = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, _Linear):  # type: ignore[misc,valid-type]
    """The linear strategy with Mitogen's connections."""
