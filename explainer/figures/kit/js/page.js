// The offline gallery: every kit figure of a static page drawn from the state embedded beside it (a script element
// of type application/vnd.explainer-kit+json: the widget's values, and its arrays' bytes in base64). No kernel: the
// controls move the drawing in the page and nothing is sent anywhere.

/** A stand-in for anywidget's model: the values, change events, and nowhere to save them. */
function pageModel(values) {
  const listeners = new Map();
  return {
    get: name => values[name],
    set(name, value) {
      if (values[name] === value) return;
      values[name] = value;
      for (const callback of listeners.get(`change:${name}`) || []) callback();
    },
    on(event, callback) { listeners.set(event, [...(listeners.get(event) || []), callback]); },
    off(event, callback) { listeners.set(event, (listeners.get(event) || []).filter(c => c !== callback)); },
    save_changes() {},
    send() {},
  };
}

/** Bytes from base64 as a DataView, put back at their path in the values (as the widget manager does). */
function putBuffers(values, buffers) {
  for (const {path, data} of buffers) {
    const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
    let holder = values;
    for (const key of path.slice(0, -1)) holder = holder[key];
    holder[path[path.length - 1]] = new DataView(bytes.buffer);
  }
  return values;
}

function drawEmbedded() {
  for (const script of document.querySelectorAll('script[type="application/vnd.explainer-kit+json"]')) {
    if (script.dataset.drawn) continue;
    script.dataset.drawn = "yes";
    const {state, buffers} = JSON.parse(script.textContent);
    const holder = document.createElement("div");
    script.after(holder);
    kitRender(pageModel(putBuffers(state, buffers)), holder);
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawEmbedded);
else drawEmbedded();
