// Not a function: top-level arguments do not apply.
{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'plain' } }
