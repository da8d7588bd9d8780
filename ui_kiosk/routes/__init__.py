"""The kiosk's routes, one module per part: login, trucks, the desk (search, status, report),
the event stream, and the JSON API."""
