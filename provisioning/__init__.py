"""Fleet management: enrolment, the fleet twin and its commands, signed updates."""
