"""Orchestrator integrations: Dagster (``syncline[dagster]``) and Airflow (``syncline[airflow]``).

Both drive a running ``syncline serve`` through its REST API (``client.py``): trigger a run,
wait for it, fail the task when the run fails or rejects more than it may. They import nothing
of Syncline but this package and ``syncline.errors``, so they run in an orchestrator's own
environment with only httpx besides it; and nothing here imports Dagster or Airflow until their
own module is imported.
"""
