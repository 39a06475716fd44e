"""camops central policy pack: pulumi preview --policy-pack ../policy --policy-pack-config FILE."""

from camops_policy.rules import policies
from pulumi_policy import PolicyPack

PolicyPack(name="camops-central", policies=policies())
