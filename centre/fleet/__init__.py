"""The centre's fleet service: each box's twin (desired configuration, reported state),
health (latest and downsampled history), alerts with their reasons, and commands, over the
signed sync. Enrolment and revocation live beside it (`enrolment`, `revocation`)."""
