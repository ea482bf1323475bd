"""Alerts: a run that failed, rejected too much, left events in doubt, ran long, planned an
unusual volume, or a sync that has not succeeded for too long, told to the people on call.

``conditions`` judges a run against a rule; ``notice`` words it; ``channels`` sends it (webhook,
Slack, email, Apprise); ``notifier`` ties them to the state store so each open condition alerts
once and recovers once.
"""

from syncline.alerts.notifier import AlertNotifier

__all__ = ["AlertNotifier"]
