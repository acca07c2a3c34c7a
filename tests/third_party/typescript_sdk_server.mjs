// The TypeScript SDK's OAuth example server (simpleStreamableHttp.js --oauth), unchanged, but
// listening on 127.0.0.1 only: the example listens on every interface, and tests bind loopback.
// Ports come from MCP_PORT and MCP_AUTH_PORT, as the example reads them.
import http from 'node:http';

const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (port, ...rest) {
  if (typeof port === 'number' || (typeof port === 'string' && /^\d+$/.test(port))) {
    const callback = rest.find((arg) => typeof arg === 'function');
    return listen.call(this, Number(port), '127.0.0.1', callback);
  }
  return listen.call(this, port, ...rest);
};

await import('@modelcontextprotocol/sdk/examples/server/simpleStreamableHttp.js');
