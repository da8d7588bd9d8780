"""The officer's web app: server, templates, static assets and translations."""
