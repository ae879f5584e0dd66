local k = import 'k.libsonnet';
local shared = import 'shared.libsonnet';
local nested = import 'sub/nested.libsonnet';
local onlyA = import 'only-a.libsonnet';
k.configMap('from-libs') {
  data: {
    source: k.source,
    team: shared.team,
    sibling: nested.sibling,
    nestedLib: nested.lib,
    onlyA: std.toString(onlyA.onlyA),
  },
}
