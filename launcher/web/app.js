/* The live page: one EventSource on /events, a snapshot a second, drawn
 * with the DOM and SVG (text only through textContent). */
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const ROLE = { operator: '#7a5af8', prosumer: '#f79009', consumer: '#2e90fa' };
const TIPS = ['#12b76a', '#f04438', '#ee46bc', '#06aed4', '#eaaa08', '#875bf7', '#667085'];
const DOWN = '#d0d5dd';
const $ = (id) => document.getElementById(id);

function el(tag, attrs, text) {
  const e = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4))
                                   : document.createElement(tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = String(text);
  return e;
}
function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
function kwh(wh) { return (wh / 1000).toFixed(3) + ' kWh'; }
function money(micro) { return (micro / 1e6).toFixed(4); }
function rate(h) {
  if (h >= 1e9) return (h / 1e9).toFixed(2) + ' GH/s';
  if (h >= 1e6) return (h / 1e6).toFixed(2) + ' MH/s';
  if (h >= 1e3) return (h / 1e3).toFixed(1) + ' kH/s';
  return h + ' H/s';
}
function short(hash) { return hash ? hash.slice(0, 12) : '-'; }
function row(cells, attrs) {
  const tr = el('tr', attrs);
  for (const c of cells) tr.appendChild(c instanceof Node ? wrap(c) : el('td', {}, c));
  return tr;
}
function wrap(n) { const td = el('td'); td.appendChild(n); return td; }

function tipColours(s) {
  const m = new Map();
  s.tips.slice().sort((a, b) => (b.best - a.best) || (b.nodes.length - a.nodes.length))
    .forEach((t, i) => m.set(t.tip, TIPS[Math.min(i, TIPS.length - 1)]));
  return m;
}

function header(s) {
  $('run').textContent = s.run;
  $('best-height').textContent = s.chain.best_height;
  $('phase').textContent = s.phase;
  const el_s = Math.max(0, Math.floor(s.elapsed_ms / 1000));
  $('elapsed').textContent = el_s + ' s' + (s.duration_s ? ' / ' + s.duration_s + ' s' : '');
  const up = s.nodes.filter((n) => n.state === 'up').length;
  $('nodes-up').textContent = up + ' / ' + s.nodes.length;
  $('stale-rate').textContent = (s.chain.stale_permille / 10).toFixed(1) + ' % (' + s.chain.stale + ')';
  $('txs').textContent = s.chain.txs + ' (' + s.tx_per_s.toFixed(1) + '/s)';
  $('price').textContent = s.market.last_traded_wh ? money(s.market.last_price) : '-';
  $('traded').textContent = kwh(s.market.traded_wh);
}

/* Nodes on a circle in the launcher's order (operator first, at the
 * top), so no straight link passes through another node; an edge where
 * either end lists the other among its peers. */
function network(s, colours) {
  const svg = $('net');
  clear(svg);
  const W = 600, H = 440, cx = W / 2, cy = H / 2, R = Math.min(W, H) / 2 - 40;
  const pos = new Map();
  s.nodes.forEach((n, i) => {
    const a = -Math.PI / 2 + 2 * Math.PI * i / Math.max(1, s.nodes.length);
    pos.set(n.name, [cx + R * Math.cos(a), cy + R * Math.sin(a)]);
  });
  const seen = new Set(), links = el('svg:g', { class: 'links' });
  s.nodes.forEach((n) => (n.state === 'up' ? n.links || [] : []).forEach((p) => {
    const key = [n.name, p].sort().join(' ');
    if (seen.has(key) || !pos.has(p)) return;
    seen.add(key);
    const [a, b] = key.split(' '), pa = pos.get(a), pb = pos.get(b);
    links.appendChild(el('svg:line', { class: 'link', 'data-a': a, 'data-b': b,
      x1: pa[0], y1: pa[1], x2: pb[0], y2: pb[1] }));
  }));
  svg.appendChild(links);
  const r = s.nodes.length > 40 ? 9 : 16;
  s.nodes.forEach((n) => {
    const [x, y] = pos.get(n.name), up = n.state === 'up';
    const g = el('svg:g', { class: 'node ' + n.state, 'data-name': n.name, 'data-state': n.state,
      'data-up': up ? '1' : '0', 'data-links': (n.links || []).join(' '),
      'data-height': n.height === undefined ? '' : n.height });
    g.appendChild(el('svg:title', {}, n.name + ' (' + n.role + ', ' + n.state + ')' +
      (n.height !== undefined ? ' height ' + n.height + ' tip ' + short(n.tip) : '')));
    g.appendChild(el('svg:circle', { cx: x, cy: y, r: r,
      fill: up ? (colours.get(n.tip) || DOWN) : DOWN,
      stroke: up ? ROLE[n.role] || '#333' : '#b42318', 'stroke-width': 4 }));
    g.appendChild(el('svg:text', { x: x, y: y + 4 }, n.name));
    const under = up ? (n.height !== undefined ? 'h ' + n.height : '') : n.state;
    if (under) g.appendChild(el('svg:text', { x: x, y: y + r + 13, class: up ? '' : 'badge' }, under));
    if (n.restarts) g.appendChild(el('svg:text', { x: x + r + 2, y: y - r + 4, class: 'badge' },
      '\u21bb' + n.restarts));
    svg.appendChild(g);
  });
  const lg = $('net-legend');
  clear(lg);
  for (const k in ROLE) {
    const sp = el('span');
    const sw = el('span', { class: 'sw' });
    sw.style.border = '3px solid ' + ROLE[k];
    sp.appendChild(sw);
    sp.appendChild(document.createTextNode(' ' + k));
    lg.appendChild(sp);
  }
  lg.appendChild(el('span', {}, 'fill: the tip a node is on (see tips); grey, dashed: down'));
}

function tips(s, colours) {
  const tb = $('tips').tBodies[0];
  clear(tb);
  s.tips.slice().sort((a, b) => b.nodes.length - a.nodes.length).forEach((t) => {
    const sw = el('span', { class: 'sw' });
    sw.style.background = colours.get(t.tip);
    tb.appendChild(row([sw, el('code', {}, short(t.tip) + (t.best ? ' (best)' : '')),
      t.height, t.nodes.length + ': ' + t.nodes.join(' ')], { 'data-tip': t.tip }));
  });
}

function blocks(s) {
  const tb = $('blocks').tBodies[0];
  clear(tb);
  s.blocks.forEach((b) => tb.appendChild(row([b.height, b.miner,
    b.interval_s === undefined ? '-' : b.interval_s < 1 ? '<1 s' : b.interval_s + ' s', b.txs,
    el('code', {}, short(b.hash))])));
}

function nodes(s) {
  const tb = $('nodes').tBodies[0];
  clear(tb);
  s.nodes.forEach((n) => {
    const has = n.height !== undefined;
    tb.appendChild(row([n.name, n.role, n.state, n.host === 'local' ? n.addr : n.host,
      has ? n.height : '-', has ? n.peers : '-', has ? rate(n.hashrate) : '-',
      has ? (n.balance / 1e6).toFixed(6) : '-', has ? (n.sold_wh / 1000).toFixed(3) : '-',
      has ? (n.bought_wh / 1000).toFixed(3) : '-', has ? n.stale : '-', n.restarts],
      { class: n.state, 'data-node': n.name, 'data-state': n.state }));
  });
}

function events(s) {
  const ul = $('events');
  clear(ul);
  if (!s.events.length) ul.appendChild(el('li', { class: 'none' }, 'none'));
  s.events.forEach((e) => ul.appendChild(el('li', {}, e)));
}

/* A line chart of columns of s.market.series (x: interval count). */
function chart(id, series, cols) {
  const svg = $(id);
  clear(svg);
  const W = 480, H = 200, L = 56, B = 26, T = 10, Rt = 10;
  svg.appendChild(el('svg:line', { class: 'axis', x1: L, y1: H - B, x2: W - Rt, y2: H - B }));
  svg.appendChild(el('svg:line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }));
  svg.appendChild(el('svg:text', { x: (L + W) / 2, y: H - 4, 'text-anchor': 'middle' },
    'market interval'));
  if (!series.length) {
    svg.appendChild(el('svg:text', { x: (L + W) / 2, y: H / 2, 'text-anchor': 'middle' },
      'no interval settled yet'));
    return;
  }
  const x0 = series[0][0], x1 = Math.max(series[series.length - 1][0], x0 + 1);
  let ymax = 1;
  for (const p of series) for (const c of cols) if (!c.only || c.only(p)) ymax = Math.max(ymax, c.f(p));
  ymax *= 1.15;
  const X = (v) => L + (W - L - Rt) * (v - x0) / (x1 - x0);
  const Y = (v) => H - B - (H - B - T) * v / ymax;
  for (const f of [0.5, 1]) {
    svg.appendChild(el('svg:line', { class: 'grid', x1: L, x2: W - Rt, y1: Y(ymax * f), y2: Y(ymax * f) }));
    svg.appendChild(el('svg:text', { x: L - 4, y: Y(ymax * f) + 4, 'text-anchor': 'end' },
      cols[0].fmt(ymax * f)));
  }
  svg.appendChild(el('svg:text', { x: L, y: H - B + 14, 'text-anchor': 'middle' }, x0));
  svg.appendChild(el('svg:text', { x: W - Rt, y: H - B + 14, 'text-anchor': 'end' }, x1));
  cols.forEach((c, k) => {
    const some = series.filter((p) => !c.only || c.only(p));
    const pts = some.map((p) => X(p[0]).toFixed(1) + ',' + Y(c.f(p)).toFixed(1)).join(' ');
    svg.appendChild(el('svg:polyline', { points: pts, fill: 'none', stroke: c.colour,
      'stroke-width': 2, class: 'series' }));
    if (some.length < 60) some.forEach((p) => svg.appendChild(el('svg:circle',
      { cx: X(p[0]), cy: Y(c.f(p)), r: 2.5, fill: c.colour })));
    const lx = W - Rt - (cols.length - k) * 100;
    svg.appendChild(el('svg:rect', { x: lx, y: T, width: 10, height: 10, fill: c.colour }));
    svg.appendChild(el('svg:text', { x: lx + 14, y: T + 9 }, c.name));
  });
}

function market(s) {
  const se = s.market.series;
  /* An interval with no energy traded peer to peer has no price. */
  chart('chart-price', se, [{ name: 'price /kWh', colour: '#7a5af8', f: (p) => p[1],
    only: (p) => p[2] > 0, fmt: (v) => money(v) }]);
  chart('chart-energy', se, [
    { name: 'traded P2P', colour: '#12b76a', f: (p) => p[2], fmt: (v) => Math.round(v) },
    { name: 'grid import', colour: '#f04438', f: (p) => p[3], fmt: (v) => Math.round(v) },
    { name: 'grid export', colour: '#f79009', f: (p) => p[4], fmt: (v) => Math.round(v) }]);
}

function draw(s) {
  const colours = tipColours(s);
  header(s);
  network(s, colours);
  tips(s, colours);
  blocks(s);
  market(s);
  nodes(s);
  events(s);
  document.body.setAttribute('data-updated', String(s.t_ms));
}

function start() {
  const es = new EventSource('/events');
  const st = $('status');
  es.onopen = () => { st.textContent = 'live'; st.className = 'status on'; };
  es.onerror = () => { st.textContent = 'reconnecting'; st.className = 'status off'; };
  es.onmessage = (ev) => {
    let s;
    try { s = JSON.parse(ev.data); } catch (e) { return; }
    if (s && s.nodes) draw(s);
  };
}

start();
