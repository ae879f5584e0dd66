// One object is one manifest; hidden fields (::) are not output.
local base = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  name:: 'web',
  replicas:: 2,
  metadata: { name: $.name, labels: { app: $.name } },
  spec: {
    replicas: $.replicas,
    selector: { matchLabels: { app: $.name } },
    template: {
      metadata: { labels: { app: $.name } },
      spec: { containers: [{ name: 'web', image: 'nginx:1.27', ports: [{ containerPort: 80 }] }] },
    },
  },
};
base { name:: 'shop', replicas:: 3, metadata+: { annotations: { ratio: 0.25, enabled: true, none: null } } }
