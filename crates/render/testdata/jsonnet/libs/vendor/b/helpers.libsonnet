{ configMap(name):: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: name, labels: { from: 'vendor-b-helpers' } } } }
