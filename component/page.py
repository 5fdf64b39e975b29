"""The page served at GET /: pick or drop an image, see the model's top predictions.

Kept as a Python string: the component has no files of its own at run time.
"""
INDEX_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Image classifier</title>
<style>
  body { font: 16px/1.4 system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  #drop { display: block; margin: 1rem 0; border: 2px dashed #999; border-radius: 8px; padding: 2rem; text-align: center; cursor: pointer; }
  #drop:focus-within { outline: 2px solid #06c; }
  #file { position: absolute; width: 1px; height: 1px; opacity: 0; }
  #drop.over { border-color: #06c; background: #eef5ff; }
  #preview { max-width: 100%; max-height: 320px; display: block; margin: 1rem auto; }
  #predictions { list-style: none; padding: 0; }
  #predictions li { margin: .4rem 0; }
  .bar { height: .5rem; background: #06c; border-radius: 4px; }
  #status { color: #666; }
  #status.error { color: #b00; }
</style>
</head>
<body>
<h1>Image classifier</h1>
<p>A MobileNetV2-family network (EfficientNet-Lite0 by default) running in numpy inside a WebAssembly component.</p>
<label id="drop">Drop an image here, or click to pick one
  <input id="file" type="file" accept="image/*">
</label>
<img id="preview" alt="">
<p id="status"></p>
<ol id="predictions"></ol>
<script>
const drop = document.getElementById("drop");
const status = document.getElementById("status");
const list = document.getElementById("predictions");

async function classify(file) {
  document.getElementById("preview").src = URL.createObjectURL(file);
  list.replaceChildren();
  status.className = "";
  status.textContent = "Classifying " + file.name + "...";
  let response, answer;
  try {
    response = await fetch("predict?top_k=5", { method: "POST", body: file });
    answer = await response.json();
  } catch (e) {
    status.className = "error";
    status.textContent = "Request failed: " + e.message;
    return;
  }
  if (!response.ok) {
    status.className = "error";
    status.textContent = answer.error;
    return;
  }
  status.textContent = answer.model + ", " + answer.timings_ms.total.toFixed(0) + " ms";
  for (const p of answer.predictions) {
    const item = document.createElement("li");
    item.textContent = p.label + " (" + (100 * p.score).toFixed(1) + "%)";
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = (100 * p.score) + "%";
    item.append(bar);
    list.append(item);
  }
}

document.getElementById("file").addEventListener("change", e => {
  classify(e.target.files[0]);
  e.target.value = "";  // so picking the same file again fires "change" again
});
drop.addEventListener("dragover", e => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", e => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files.length) classify(e.dataTransfer.files[0]);
});
</script>
</body>
</html>
"""
