"""Risk profiles: the centre's versioned, signed rule sets, applied by the box offline.

- `model`: the rule set as a strict, bounded model (what the centre authors and signs);
- `facts`: what a rule looks at, taken from the record, the readings and the truck's history;
- `index`: the rules indexed for a truck in well under a millisecond, and the plain loop it
  must agree with;
- `lane`: the fixed lane rules (edge.risk) and the profiles combined, worst first, with the
  random selection (ASYCUDA's selectivity) drawn once per arrival;
- `store`: the box's tables: the active set, its parts as they arrive, each arrival's draw and
  hits, and the officers' inspection results.
"""
