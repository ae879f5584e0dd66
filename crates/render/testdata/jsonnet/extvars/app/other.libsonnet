// .libsonnet files are not rendered on their own.
{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'never' } }
