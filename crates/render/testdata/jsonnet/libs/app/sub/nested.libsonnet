// Imports resolve next to the importing file first.
{ sibling: (import 'sibling.libsonnet').value, lib: (import 'shared.libsonnet').team }
