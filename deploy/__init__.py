"""The deploy: configuration, releases on each host, the rollout (used by fabfile.py).

The scripts next to these modules (wait_ready.py, wait_programs.py,
select_roles.py, dump_database.py, render_nginx.py) run on the hosts themselves.
"""
