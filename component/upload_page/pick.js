// What both pages share (index.html loads it before the page's own script): the files picked in
// the input or dropped on its label go to onFiles(files), an array.
function pickFiles(onFiles) {
  const drop = document.getElementById('drop'), input = document.getElementById('file');
  input.addEventListener('change', e => {
    onFiles([...e.target.files]);
    e.target.value = '';  // so picking the same files again fires "change" again
  });
  drop.addEventListener('dragover', e => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', e => {
    e.preventDefault();
    drop.classList.remove('over');
    if (!input.disabled && e.dataTransfer.files.length) onFiles([...e.dataTransfer.files]);
  });
}
