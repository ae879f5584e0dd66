// Next to main.jsonnet: found before lib/shared.libsonnet, which sub/nested.libsonnet gets.
{ team: 'app-dir' }
