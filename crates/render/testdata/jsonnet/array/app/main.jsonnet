local cm(name, data) = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: name }, data: data };
[cm('cm-' + n, { n: std.toString(n) }) for n in std.range(1, 3)]
+ [null]
+ [{ apiVersion: 'v1', kind: 'List', items: [cm('listed-a', {}), cm('listed-b', { k: 'v' })] }]
+ (if std.length([]) > 0 then [cm('never', {})] else [])
