function(name, replicas=1, ports=[], flag='false', unused='default') {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: name, annotations: { flag: flag, flagType: std.type(flag), unused: unused } },
  spec: {
    replicas: replicas,
    template: { spec: { containers: [{ name: name, ports: [{ containerPort: p } for p in ports] }] } },
  },
}
