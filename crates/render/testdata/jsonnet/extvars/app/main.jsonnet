local settings = std.extVar('settings');
{
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'config-' + std.extVar('env') },
  data: {
    replicas: std.extVar('replicas'),
    replicasType: std.type(std.extVar('replicas')),
    tier: settings.tier,
    zones: std.toString(settings.zones),
  },
}
