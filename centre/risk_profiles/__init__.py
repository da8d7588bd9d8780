"""Risk profiles at the national centre: rule sets authored in the console or submitted by the
CIS, stored version by version, signed and sent to every box of the country (`desk`); the
boxes' inspection results, and each profile's hit rate from them (`results`)."""
