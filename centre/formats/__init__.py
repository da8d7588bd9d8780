"""The CIS's file formats, each a conversion into the e-manifest contract (edge.manifest)
and back."""
