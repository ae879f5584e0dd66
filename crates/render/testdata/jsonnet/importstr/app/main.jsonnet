{
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'files' },
  data: {
    'nginx.conf': importstr 'nginx.conf',
    bytes: std.toString(std.length(importbin 'nginx.conf')),
    lines: std.toString(std.length(std.split(importstr 'settings.txt', '\n'))),
  },
}
