// Playwright's types name the DOM's (Element, HTMLElement...), and so does the
// code the browser test runs in the page; nothing else in this Node.js
// project uses them.
/// <reference lib="dom" />
