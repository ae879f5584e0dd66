function(env) [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'shop-' + env, namespace: 'shop' } }]
