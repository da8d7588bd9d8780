"""End-to-end tests of the officer's kiosk in Debian's Chromium (Playwright, no browser
download): real kiosk processes over real stores, real drivers on real ptys."""
