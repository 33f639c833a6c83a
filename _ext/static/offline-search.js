// The search page quotes each hit from the hit's page, which it fetch()es; a browser refuses fetch() of a file://
// page, so a book opened from disk showed titles only (and a console error per hit). Opened from disk, this page
// reads the pages' text from search-texts.js instead (written by _ext/offline_pages.py); over http nothing changes.
if (window.location.protocol === "file:") {
  const texts = new Promise((resolve) => {
    const script = document.createElement("script");
    script.src = new URL("search-texts.js", document.currentScript.src).href;
    script.onload = () => resolve(window.OFFLINE_SEARCH_TEXTS || {});
    script.onerror = () => resolve({});
    document.head.appendChild(script);
  });
  const pageFetch = window.fetch.bind(window);
  window.fetch = (resource, options) => {
    const url = new URL(resource instanceof Request ? resource.url : resource, window.location.href);
    if (url.protocol !== "file:") return pageFetch(resource, options);
    const root = new URL(document.documentElement.dataset.content_root || "./", window.location.href).pathname;
    const page = decodeURIComponent(url.pathname.slice(root.length)).replace(/\.html$/, "");
    return texts.then((all) => new Response(page in all ? `<div role="main">${all[page]}</div>` : "",
                                            {headers: {"Content-Type": "text/html"}}));
  };
}
