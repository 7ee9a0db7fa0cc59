"""Deploy manager: run flow specs as supervised Bytewax processes and record what is deployed.

``pulsearb flows deploy`` starts one supervisor daemon per flow (:mod:`ops.control.supervisor`); ``pulsearb up``
runs the same :class:`~ops.control.supervisor.FlowSupervisor` inside its own process. Either way each process of a
flow gets its own recovery directory (one Bytewax recovery partition each) and metrics port, a crashed process is
restarted with backoff (the whole cluster, since Bytewax processes of one flow fail together), and the deployment
is recorded in ``deployments.json`` (:mod:`ops.control.record`). :mod:`ops.control.tally` counts what deployed
flows produced (opportunities, decisions, executions, realized profit) from their output topics.
"""
