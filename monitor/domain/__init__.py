"""The bottom of the flow: domain events, metrics and the project's exceptions.

Nothing here imports anything else of the project, so drivers, simulators and every part of
``monitor`` can depend on it.
"""
