// Also in vendor/a: the later library path wins, as in go-jsonnet.
(import 'helpers.libsonnet') { source: 'vendor/b' }
