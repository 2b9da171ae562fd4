"""GET /api/docs: the OpenAPI document as a browsable page, self-contained (no CDN, no second request).

The document is embedded in the page as JSON and a few lines of script render it: one section per route with its
guard, parameters, body fields (description, type, enum values with their names) and example. Whatever the
document says, the page shows; there is nothing to keep in step by hand.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>One API admin API</title>
<style>
body{font:14px/1.5 system-ui,sans-serif;margin:0;color:#1f2328;background:#fff}
header{padding:16px 24px;border-bottom:1px solid #d0d7de}h1{margin:0 0 4px;font-size:20px}
main{display:flex}nav{width:280px;flex:none;padding:12px;border-right:1px solid #d0d7de;height:calc(100vh - 90px);
overflow:auto;position:sticky;top:0}nav a{display:block;color:#0969da;text-decoration:none;font:12px monospace;
padding:2px 0}#ops{padding:12px 24px;flex:1;min-width:0}section{border:1px solid #d0d7de;border-radius:6px;
margin:0 0 12px;padding:8px 12px}.m{display:inline-block;min-width:56px;font:bold 12px monospace;color:#fff;
border-radius:4px;padding:2px 6px;text-align:center;margin-right:8px}.get{background:#1f883d}.post{background:#0969da}
.put{background:#9a6700}.delete{background:#cf222e}.path{font:600 14px monospace}.acc{float:right;font-size:12px;
color:#59636e}table{border-collapse:collapse;width:100%;margin:6px 0}td,th{border-top:1px solid #eaeef2;
padding:3px 6px;text-align:left;vertical-align:top}th{font-size:12px;color:#59636e}code,pre{font:12px monospace}
pre{background:#f6f8fa;padding:8px;border-radius:6px;overflow:auto}input{width:100%;padding:6px;margin:8px 0;
box-sizing:border-box}
</style></head><body>
<header><h1 id="title"></h1><div id="info"></div></header>
<main><nav><input id="filter" placeholder="filter routes" aria-label="filter routes"><div id="toc"></div></nav>
<div id="ops"></div></main>
<script type="application/json" id="openapi">__DOCUMENT__</script>
<script>
(function () {
  var doc = JSON.parse(document.getElementById('openapi').textContent);
  function el(tag, attrs, kids) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (kids || []).forEach(function (kid) { node.append(kid); });
    return node;
  }
  function ref(schema) {
    if (schema && schema.$ref) return doc.components.schemas[schema.$ref.split('/').pop()];
    return schema || {};
  }
  function typeOf(s) {
    var t = Array.isArray(s.type) ? s.type.join(' | ') : (s.type || 'any');
    if (s.enum) t += s['x-enumNames'] ? ', named below' : ' — one of ' + s.enum.map(JSON.stringify).join(', ');
    return t;
  }
  function fields(rows) {
    var table = el('table', {}, [el('tr', {}, [el('th', {}, ['field']), el('th', {}, ['type']),
      el('th', {}, ['description'])])]);
    rows.forEach(function (r) {
      table.append(el('tr', {}, [el('td', {}, [el('code', {}, [r[0]])]), el('td', {}, [typeOf(r[1])]),
        el('td', {}, [r[1].description || ''])]));
    });
    return table;
  }
  document.getElementById('title').textContent = doc.info.title + ' ' + doc.info.version;
  document.getElementById('info').textContent = doc.info.description;
  var toc = document.getElementById('toc'), ops = document.getElementById('ops'), n = 0;
  Object.keys(doc.paths).forEach(function (path) {
    Object.keys(doc.paths[path]).forEach(function (method) {
      var op = doc.paths[path][method], id = 'op' + (n++);
      var section = el('section', {id: id, 'data-route': method.toUpperCase() + ' ' + path}, [
        el('span', {class: 'acc'}, [op['x-access']]), el('span', {class: 'm ' + method}, [method.toUpperCase()]),
        el('span', {class: 'path'}, [path]), el('p', {}, [op.summary])]);
      if (op.parameters.length) section.append(el('h4', {}, ['Parameters']), fields(op.parameters.map(function (p) {
        return [p.name + ' (' + p.in + ')', Object.assign({}, p.schema, {description: p.description || ''})];
      })));
      if (op.requestBody) {
        var media = op.requestBody.content['application/json'], body = ref(media.schema);
        section.append(el('h4', {}, ['Body']), fields(Object.keys(body.properties || {}).map(function (k) {
          return [k, body.properties[k]];
        })));
        if (media.example !== undefined) section.append(el('h4', {}, ['Example']),
          el('pre', {}, [JSON.stringify(media.example, null, 2)]));
      }
      section.append(el('h4', {}, ['Answers']), el('p', {}, [Object.keys(op.responses).map(function (code) {
        return code + ': ' + op.responses[code].description;
      }).join('; ')]));
      ops.append(section);
      toc.append(el('a', {href: '#' + id, 'data-route': section.getAttribute('data-route')},
        [method.toUpperCase() + ' ' + path]));
    });
  });
  document.getElementById('filter').addEventListener('input', function (e) {
    var q = e.target.value.toLowerCase();
    document.querySelectorAll('[data-route]').forEach(function (node) {
      node.style.display = node.getAttribute('data-route').toLowerCase().indexOf(q) >= 0 ? '' : 'none';
    });
  });
})();
</script></body></html>
"""


def page(doc: dict[str, Any]) -> str:
    """The page with `doc` embedded; `<` is escaped so no string of the document can end the script element."""
    embedded = orjson.dumps(doc).decode().replace("<", "\\u003c")
    return PAGE.replace("__DOCUMENT__", embedded)


def answer(doc: dict[str, Any]) -> web.Response:
    return web.Response(text=page(doc), content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-cache"})
