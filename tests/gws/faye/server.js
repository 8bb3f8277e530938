// A third-party Bayeux server (npm faye) for the CometD client interop tests.
// usage: node server.js PORT [TIMEOUT_S]
// Binds 127.0.0.1:PORT, mounts Bayeux at /cometd, publishes {seq, boot: <pid>} on /v2/me/calls
// every 100 ms (the pid tells a restarted server's messages apart), prints "ready" once listening.
'use strict';
const http = require('http');
const faye = require('faye');

const port = Number(process.argv[2]);
const timeout = Number(process.argv[3] || 1);
const bayeux = new faye.NodeAdapter({ mount: '/cometd', timeout: timeout });
const server = http.createServer();
bayeux.attach(server);

let seq = 0;
server.listen(port, '127.0.0.1', () => {
  console.log('ready ' + port);
  setInterval(() => bayeux.getClient().publish('/v2/me/calls', { seq: seq++, boot: process.pid }), 100);
});
process.on('SIGTERM', () => process.exit(0));
