// The page at GET / (component/page.py inlines this script): posts the picked or dropped files
// to POST /predict as multipart/form-data (one answer for one file, one entry per file for
// several: predict.py).
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

pickFiles(classify);  // pick.js
