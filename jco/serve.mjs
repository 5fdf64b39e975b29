// The second HTTP host: a component transpiled by jco (jco/transpile.sh, once per build of the
// .wasm) served by preview2-shim's wasi:http server in Node, a fresh instance per request. It is
// what `jco serve --isolate-requests instance` runs, without its transpile at every start (6 s
// for the classifier), with the sandbox `make serve` gives under wasmtime (only the folders and
// environment variables granted, no network), and with a trap or an exit ending the request
// that caused it (500) instead of the whole Node process.
//
//   node [--experimental-wasm-extended-const] [--wasm-max-mem-pages=N] jco/serve.mjs \
//        NODE_MODULES TRANSPILED.js PORT [--dir HOST::GUEST]... [--env NAME=VALUE]...
//
// Requests in flight: one. preview2-shim's server thread hands each request to Node's main
// thread, where the instance runs to its answer synchronously (its I/O blocks through the shim's
// worker); the others wait in the server thread. So N = 1 whatever SERVE_CONCURRENCY says, and
// a semaphore would never have a second holder (docs/operations.md).
//
// --dir and --env are wasmtime serve's (the Makefile passes both hosts the same). Node 20 needs
// the first V8 flag (CPython's component uses extended constant expressions); the second caps
// every linear memory, as wasmtime serve's pooling-max-memory-size does.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [nodeModules, transpiled, port, ...grants] = process.argv.slice(2);
// preview2-shim lives in build/jco/node_modules (npm ci from jco/package-lock.json), not beside
// this file: resolve it from there.
const require = createRequire(join(resolve(nodeModules), 'noop.js'));
const shim = name => import(pathToFileURL(require.resolve(`@bytecodealliance/preview2-shim/${name}`)));
const { HTTPServer, types } = await shim('http');
const { WASIShim } = await shim('instantiation');
const cli = await shim('cli');
const { instantiate } = await import(pathToFileURL(resolve(transpiled)));

const sandbox = { preopens: {}, env: {}, enableNetwork: false };
for (let i = 0; i < grants.length; i += 2) {
  const [flag, value] = grants.slice(i, i + 2);
  const [key, val] = flag === '--dir' ? value.split('::') : value.split(/=(.*)/s);
  if (flag === '--dir') sandbox.preopens[val] = resolve(key);
  else if (flag === '--env') sandbox.env[key] = val;
  else throw new Error(`unknown option ${flag}`);
}

class Exited extends Error {}
// wasi:cli/exit would end the Node process (the shim calls process.exit): end the instance.
const exit = { exit: status => { throw new Exited(`the instance exited (${status.tag})`); } };
const imports = () => new WASIShim({ sandbox, cli: { ...cli, exit } }).getImportObject();

// Compiled once; instantiated per request (the snapshot's memory is copied in each time).
const compiled = new Map();
const coreModule = path => {
  if (!compiled.has(path)) {
    compiled.set(path, new WebAssembly.Module(readFileSync(new URL(path, pathToFileURL(resolve(transpiled))))));
  }
  return compiled.get(path);
};
const started = performance.now();
instantiate(coreModule, imports());  // compiles every core module and checks the imports
console.error(`jco host: compiled and instantiated in ${((performance.now() - started) / 1000).toFixed(1)} s`);

// Which requests the guest has answered: after a trap, only the others get the host's 500.
const answered = new WeakSet();
const setResponse = types.ResponseOutparam.set;
types.ResponseOutparam.set = (param, response) => {
  answered.add(param);
  setResponse(param, response);
};

function answerTrap(responseOut) {
  const response = new types.OutgoingResponse(types.Fields.fromList([
    ['content-type', new TextEncoder().encode('text/plain')]]));
  response.setStatusCode(500);
  const body = response.body();
  types.ResponseOutparam.set(responseOut, { tag: 'ok', val: response });
  const stream = body.write();
  stream.blockingWriteAndFlush(new TextEncoder().encode('the instance trapped (details in the server log)\n'));
  stream[Symbol.dispose]?.();
  types.OutgoingBody.finish(body);
}

const server = new HTTPServer({
  handle(request, responseOut) {
    try {
      instantiate(coreModule, imports()).incomingHandler.handle(request, responseOut);
    } catch (error) {
      console.error(`jco host: request trapped: ${error instanceof Exited ? error.message : error?.stack ?? error}`);
      if (!answered.has(responseOut)) answerTrap(responseOut);
    }
  },
});
server.listen(Number(port), '127.0.0.1');
console.error(`jco host listening on http://127.0.0.1:${port}`);
