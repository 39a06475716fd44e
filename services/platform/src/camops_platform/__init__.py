"""camops central connection platform: catalog, accounts, role grants, authorization, audit log.

Runs on the central platform hosts (roles/platform) behind nginx; PostgreSQL holds everything.
Depends on nothing of the ops library (``infra``): it is installed alone into a virtualenv.
"""
