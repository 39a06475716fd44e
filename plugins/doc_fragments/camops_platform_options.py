"""The options every camops platform module takes: where the platform is and how to reach it."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  url:
    description: The platform's base URL, for example V(https://10.77.0.10).
    type: str
    required: true
  token:
    description:
      - An automation token of the platform (C(camops-platform token)), with the scopes the
        module's notes name; from the vault, never written in a playbook.
    type: str
    required: true
  ca_path:
    description: CA bundle that signed the platform's certificate.
    type: path
"""
