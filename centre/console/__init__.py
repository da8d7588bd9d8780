"""The centre's operators' console: a web app (FastAPI, Jinja2 templates, nothing loaded from
elsewhere) where operators log in and watch the centre's links (broker, relay, partners) and
the boxes it routes to with their backlog, inspect, re-verify, release or discard quarantined
messages, trace one record from the CIS through the boxes, and approve or reject the partner
records of the SIE review queue. Every action is audited with its reason
(`centre.audit`).

`centre.console.app.create_console` builds the app; `centre.console.operators.add_operator`
creates an operator. This module imports nothing, so that the review queue may use the audit
without loading the web app."""
