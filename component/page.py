"""The page served at GET /: pick or drop images, see the model's top predictions for each.

It posts the files as multipart/form-data (one answer for one file, one entry per file for
several: predict.py).

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
  #results section { display: flex; gap: 1rem; align-items: flex-start; margin: 1rem 0; }
  #results img { width: 96px; height: 96px; object-fit: cover; border-radius: 4px; }
  #results h2 { font-size: 1rem; margin: 0; }
  #results ol { padding-left: 1.2rem; margin: .3rem 0; }
  #results .error { color: #b00; }
</style>
</head>
<body>
<h1>Image classifier</h1>
<p>A MobileNetV2-family network (EfficientNet-Lite0 by default) running in numpy inside a WebAssembly component.</p>
<label id="drop">Drop images here, or click to pick some
  <input id="file" type="file" accept="image/*" multiple>
</label>
<img id="preview" alt="">
<p id="status"></p>
<ol id="predictions"></ol>
<div id="results"></div>
<script>
const drop = document.getElementById("drop");
const status = document.getElementById("status");
const list = document.getElementById("predictions");
const results = document.getElementById("results");
const preview = document.getElementById("preview");

function percent(p) { return p.label + " (" + (100 * p.score).toFixed(1) + "%)"; }

async function classify(files) {
  if (!files.length) return;
  list.replaceChildren();
  results.replaceChildren();
  preview.hidden = files.length > 1;
  if (files.length === 1) preview.src = URL.createObjectURL(files[0]);
  status.className = "";
  status.textContent = "Classifying " + (files.length === 1 ? files[0].name : files.length + " images") + "...";
  const form = new FormData();
  for (const file of files) form.append("image", file, file.name);
  let response, answer;
  try {
    response = await fetch("predict?top_k=5", { method: "POST", body: form });
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
  if (answer.results) {  // several files: one entry each, in order
    answer.results.forEach((entry, i) => {
      const section = document.createElement("section");
      const image = document.createElement("img");
      image.alt = "";
      if (!entry.error) image.src = URL.createObjectURL(files[i]);  // not a picture otherwise
      const text = document.createElement("div");
      const title = document.createElement("h2");
      title.textContent = entry.filename;
      text.append(title);
      if (entry.error) {
        const error = document.createElement("p");
        error.className = "error";
        error.textContent = entry.error;
        text.append(error);
      } else {
        const ranked = document.createElement("ol");
        for (const p of entry.predictions.slice(0, 3)) {
          const item = document.createElement("li");
          item.textContent = percent(p);
          ranked.append(item);
        }
        text.append(ranked);
      }
      section.append(image, text);
      results.append(section);
    });
    return;
  }
  for (const p of answer.predictions) {
    const item = document.createElement("li");
    item.textContent = percent(p);
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = (100 * p.score) + "%";
    item.append(bar);
    list.append(item);
  }
}

document.getElementById("file").addEventListener("change", e => {
  classify([...e.target.files]);
  e.target.value = "";  // so picking the same files again fires "change" again
});
drop.addEventListener("dragover", e => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", e => {
  e.preventDefault();
  drop.classList.remove("over");
  classify([...e.dataTransfer.files]);
});
</script>
</body>
</html>
"""
