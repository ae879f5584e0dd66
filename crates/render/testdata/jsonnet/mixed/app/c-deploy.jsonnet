function(env='dev') {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'shop', namespace: 'shop', labels: { env: env } },
  spec: { replicas: if env == 'prod' then 3 else 1 },
}
