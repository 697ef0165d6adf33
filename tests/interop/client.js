'use strict';
// The reference gRPC client (grpc-js). Runs one call described by a JSON argument and prints one JSON line:
// {"code":N,"details":"...","responses":[...]}.
//
//   node client.js '{"target":"unix:///tmp/x.sock","method":"Echo","request":{"message":"hi"}}'
//
// Fields: target (grpc-js target: unix:///path, 127.0.0.1:port), method (Check, Watch, Echo, Count, Fail,
// Sleep, or a full path "/pkg.Service/Method" sent with an EchoRequest), request (object), deadlineMs,
// cancelAfter (cancel a stream after that many messages), maxReceive / maxSend (bytes), tls ({"ca": "PEM"}, and
// "key" / "cert" PEM for a client certificate).
const { grpc, Health, TestService } = require('./common');

const spec = JSON.parse(process.argv[2]);
const options = {};
if (spec.maxReceive) options['grpc.max_receive_message_length'] = spec.maxReceive;
if (spec.maxSend) options['grpc.max_send_message_length'] = spec.maxSend;
let credentials = grpc.credentials.createInsecure();
if (spec.tls) {
  credentials = spec.tls.cert
    ? grpc.credentials.createSsl(Buffer.from(spec.tls.ca), Buffer.from(spec.tls.key), Buffer.from(spec.tls.cert))
    : grpc.credentials.createSsl(Buffer.from(spec.tls.ca));
  if (spec.tls.serverName) options['grpc.ssl_target_name_override'] = spec.tls.serverName;
}

const isHealth = spec.method === 'Check' || spec.method === 'Watch';
const client = new (isHealth ? Health : TestService)(spec.target, credentials, options);
const responses = [];
const finish = (err) => {
  const out = { code: err ? err.code : 0, details: err ? err.details : '', responses };
  process.stdout.write(JSON.stringify(out) + '\n');
  client.close();
  process.exit(0);
};

// Connect first (node starts slowly on a loaded machine), so that a call's deadline counts from when it is sent.
client.waitForReady(new Date(Date.now() + 30000), (readyError) => {
  if (readyError) { finish({ code: grpc.status.UNAVAILABLE, details: String(readyError) }); return; }
  start();
});

function start() {
  const callOptions = spec.deadlineMs ? { deadline: new Date(Date.now() + spec.deadlineMs) } : {};
  const streaming = spec.method === 'Count' || spec.method === 'Watch';
  const name = spec.method[0].toLowerCase() + spec.method.slice(1);
  if (spec.method.startsWith('/')) {
    // An arbitrary path: serialize an EchoRequest with the TestService's own serializer.
    const echo = TestService.service.Echo;
    client.makeUnaryRequest(spec.method, echo.requestSerialize, echo.responseDeserialize, spec.request || {}, callOptions,
      (err, res) => { if (res) responses.push(res); finish(err); });
  } else if (streaming) {
    const call = client[name](spec.request || {}, callOptions);
    call.on('data', (m) => {
      responses.push(m);
      if (spec.cancelAfter && responses.length === spec.cancelAfter) call.cancel();
    });
    call.on('error', (err) => finish(err));
    call.on('end', () => finish(null));
  } else {
    client[name](spec.request || {}, callOptions, (err, res) => { if (res) responses.push(res); finish(err); });
  }
}
