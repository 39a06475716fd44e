"""camops central policy pack: pulumi preview --policy-pack ../policy --policy-pack-config FILE."""

from pulumi_policy import PolicyPack

from camops_policy.rules import policies

PolicyPack(name="camops-central", policies=policies())
