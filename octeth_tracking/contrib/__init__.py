"""Adapters that mount the tracking API inside a host framework's site.

``contrib.flask`` imports Flask and ``contrib.django`` imports Django; nothing else in the
package imports either, so each framework stays an optional extra.
"""
