'use strict';
// The reference gRPC server (grpc-js) answering the same methods as the C# test service and health service.
// Usage: node server.js [--unix PATH] [--tcp HOST:PORT] [--max-message BYTES]
// Prints one JSON line {"ready":true,"tcpPort":N} when listening, then one {"event":...} line per notable event.
const { grpc, Health, TestService } = require('./common');

const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const unixPath = opt('--unix');
const tcp = opt('--tcp');
const maxMessage = opt('--max-message') ? Number(opt('--max-message')) : 4 * 1024 * 1024;
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const server = new grpc.Server({
  'grpc.max_receive_message_length': maxMessage,
  'grpc.max_send_message_length': maxMessage,
});

server.addService(Health.service, {
  check(call, callback) {
    if (call.request.service === '' || call.request.service === 'aifactory.test.v1.TestService') {
      callback(null, { status: 'SERVING' });
    } else {
      callback({ code: grpc.status.NOT_FOUND, details: `unknown service "${call.request.service}"` });
    }
  },
  watch(call) { call.write({ status: 'SERVING' }); },
});

server.addService(TestService.service, {
  echo(call, callback) {
    const r = call.request;
    callback(null, { message: r.message, payload: r.responseSize > 0 ? Buffer.alloc(r.responseSize) : r.payload });
  },
  count(call) {
    const r = call.request;
    let n = 0;
    let timer = null;
    let done = false;
    call.on('cancelled', () => { done = true; if (timer) clearTimeout(timer); emit({ event: 'cancelled', method: 'Count', sent: n }); });
    const next = () => {
      if (done) return;
      if (r.count !== 0 && n >= r.count) {
        if (r.failCode !== 0) call.emit('error', { code: r.failCode, details: r.failMessage });
        else call.end();
        return;
      }
      n++;
      const more = call.write({ n });
      if (r.intervalMs > 0) timer = setTimeout(next, r.intervalMs);
      else if (more) setImmediate(next);
      else call.once('drain', next);
    };
    next();
  },
  fail(call, callback) {
    callback({ code: call.request.code, details: call.request.message });
  },
  sleep(call, callback) {
    const timer = setTimeout(() => callback(null, { message: 'slept' }), call.request.milliseconds);
    call.on('cancelled', () => { clearTimeout(timer); emit({ event: 'cancelled', method: 'Sleep' }); });
  },
});

let pending = 0;
let tcpPort = 0;
const bound = () => { if (--pending === 0) emit({ ready: true, tcpPort }); };
if (unixPath) {
  pending++;
  server.bindAsync('unix://' + unixPath, grpc.ServerCredentials.createInsecure(), (err) => { if (err) throw err; bound(); });
}
if (tcp) {
  pending++;
  server.bindAsync(tcp, grpc.ServerCredentials.createInsecure(), (err, port) => { if (err) throw err; tcpPort = port; bound(); });
}
if (pending === 0) { console.error('usage: node server.js [--unix PATH] [--tcp HOST:PORT]'); process.exit(2); }
// Ends with its parent: the test closes stdin (or kills it).
process.stdin.on('end', () => server.forceShutdown() || process.exit(0));
process.stdin.resume();
