'use strict';
// Loads the protos shared with the C# tests: the standard health service (proto/ at the repo root) and the
// test-only service (protos/interop_test.proto).
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const repoRoot = path.resolve(__dirname, '..', '..');
const definition = protoLoader.loadSync(
  [path.join(repoRoot, 'proto', 'grpc', 'health', 'v1', 'health.proto'), path.join(__dirname, 'protos', 'interop_test.proto')],
  { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true });
const loaded = grpc.loadPackageDefinition(definition);

module.exports = {
  grpc,
  Health: loaded.grpc.health.v1.Health,
  TestService: loaded.aifactory.test.v1.TestService,
};
