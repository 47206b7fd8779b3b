// What kollect uses of prom-client, for the bundle (scripts/bundle.ts resolves 'prom-client' to
// this file). prom-client's index loads every module it has: default process metrics (and with
// them the OpenTelemetry API, 67 KB), the cluster aggregator, summaries, the Pushgateway client.
// These are the same classes, required from the modules that define them; the Pushgateway client
// (http, https, url) loads when a run pushes. test/metrics/prom-client-lean.test.ts holds them
// to prom-client's own exports.
'use strict';

exports.Registry = require('prom-client/lib/registry');
exports.Counter = require('prom-client/lib/counter');
exports.Gauge = require('prom-client/lib/gauge');
exports.Histogram = require('prom-client/lib/histogram');
Object.defineProperty(exports, 'Pushgateway', { enumerable: true, get: () => require('prom-client/lib/pushgateway') });
