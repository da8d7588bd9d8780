"""The box's fleet agent: health reports to the country's centre (`health_report`), the
desired configuration it pushes (`twin`: validated with the file's own models, written
atomically, rolled back when health fails within its grace period), the commands it sends
(`commands`, `diagnostics`), and what the box shows of all that (`status`). The service's
wiring (`edge.service.fleet_agent`) collects the figures, runs the tasks and restarts."""
