// The page of `make web`: build/classifier.wasm transpiled by jco (async instantiation) and
// run in the browser with preview2-shim's browser build; `classify` of the typed interface
// (wit/classifier.wit) is called on the bytes of the picked file. No server but static files.
import { WASIShim } from './shim/common/instantiation.js';
import { instantiate } from './classifier/classifier.js';

const TOP_K = 5;
const $ = id => document.getElementById(id);
const status = $('status'), progress = $('progress'), drop = $('drop'), input = $('file'), list = $('predictions');

// The page's markup (index.html) is the served page's too; here one file at a time, once loaded.
$('where').textContent = ', here in your browser (transpiled by jco): your image does not leave this page';
drop.firstChild.textContent = 'Drop an image here, or click to pick one\n  ';
input.multiple = false;
input.disabled = true;
drop.classList.add('disabled');
progress.hidden = false;
say('Loading the component...');

function say(text, error = false) {
  status.textContent = text;
  status.className = error ? 'error' : '';
}

// Every core module is downloaded and compiled as it streams in; the bar counts the bytes.
const sizes = await (await fetch('./classifier/core-modules.json')).json();
const total = Object.values(sizes).reduce((a, b) => a + b, 0);
let received = 0;
const mb = n => (n / 1e6).toFixed(1);

function counted(body) {
  const reader = body.getReader();
  return new ReadableStream({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        controller.close();
        return;
      }
      received += value.byteLength;
      progress.value = received / total;
      say(received < total ? `Downloading and compiling the component: ${mb(received)} of ${mb(total)} MB`
                           : 'Compiling the component...');
      controller.enqueue(value);
    },
  });
}

async function coreModule(path) {
  const response = await fetch(new URL(`./classifier/${path}`, import.meta.url));
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return WebAssembly.compileStreaming(new Response(counted(response.body), {
    headers: { 'content-type': 'application/wasm' } }));
}

const started = performance.now();
const modules = new Map();  // compiled once; an instance is made again after it is spoiled
const getCoreModule = path => {
  if (!modules.has(path)) modules.set(path, coreModule(path));
  return modules.get(path);
};
const fresh = () => instantiate(getCoreModule, new WASIShim().getImportObject());
let component;
try {
  component = await fresh();
} catch (e) {
  say(`The component did not load: ${e.message}`, true);
  throw e;
}
const model = component.classify.modelInfo();
progress.hidden = true;
say(`${model.name} ready (downloaded and compiled in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
drop.classList.remove('disabled');
input.disabled = false;
document.body.dataset.ready = 'true';

async function classify(file) {
  $('preview').src = URL.createObjectURL(file);
  list.replaceChildren();
  say(`Classifying ${file.name}...`);
  const image = new Uint8Array(await file.arrayBuffer());
  await new Promise(requestAnimationFrame);  // let the status show: the call blocks this thread
  let predictions;
  const t0 = performance.now();
  try {
    predictions = component.classify.classify(image, TOP_K);
  } catch (e) {
    // jco throws the `error` variant of a result as e.payload ({tag, val}); anything else trapped.
    // After any failure the next image gets a fresh instance (as host/classifier.py does: a
    // failure may leave it short of memory, which never shrinks).
    const error = e.payload;
    say(error ? error.val : `the instance trapped: ${e.message}`, true);
    component = await fresh();
    return;
  }
  const ms = performance.now() - t0;
  say(`${model.name}, ${ms.toFixed(0)} ms in this browser`);
  status.dataset.ms = ms;
  for (const p of predictions) {
    const item = document.createElement('li');
    item.textContent = `${p.label} (${(100 * p.score).toFixed(1)}%)`;
    Object.assign(item.dataset, { index: p.index, label: p.label, score: p.score });
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.style.width = `${100 * p.score}%`;
    item.append(bar);
    list.append(item);
  }
}

pickFiles(files => classify(files[0]));  // pick.js
