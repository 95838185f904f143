// Tollgate dashboard: plain JavaScript, no build step. Reads the admin API
// with the admin token kept in sessionStorage (this tab only) and sent as a
// Bearer header; nothing secret ever goes into a URL. Every value that came
// from a client (customer ids, tags, reasons) is put in the page as text,
// never as HTML.
'use strict';

(() => {
  const TOKEN_KEY = 'tollgate.adminToken';
  const $ = (sel) => document.querySelector(sel);

  // ---- small helpers -------------------------------------------------------

  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  const usd = (n) => {
    if (n === null || n === undefined) return '—';
    const a = Math.abs(n);
    const digits = a === 0 ? 2 : a < 0.01 ? 6 : a < 1 ? 4 : 2;
    return (n < 0 ? '-$' : '$') + a.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  };
  const int = (n) => Number(n || 0).toLocaleString('en-US');
  const amount = (v, unit) => (unit === 'tokens' || unit === 'requests' ? `${int(Math.round(v))} ${unit}` : `${v.toLocaleString('en-US', { maximumFractionDigits: 2 })} ${unit}`);
  const STATE_TEXT = { ok: 'ok', near_cap: 'near cap', capped: 'capped' };

  function showError(msg) {
    const e = $('#error');
    e.textContent = msg || '';
    e.hidden = !msg;
  }

  // ---- session and API -----------------------------------------------------

  const token = () => sessionStorage.getItem(TOKEN_KEY);

  class Unauthorized extends Error {}

  /** A refusal from the admin API: its status, and the error object of its body (code, message, param). */
  class ApiError extends Error {
    constructor(status, error) {
      super(error.message || String(status));
      this.status = status;
      this.error = error;
    }
  }

  /** An admin API request; `body` (an object) is sent as JSON. */
  async function api(path, method = 'GET', body = undefined) {
    const headers = { authorization: `Bearer ${token()}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(path, { method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) });
    if (r.status === 401) throw new Unauthorized('the admin token was refused');
    if (!r.ok) {
      let error = { message: `${r.status} ${r.statusText}` };
      try { error = (await r.json()).error || error; } catch { /* not JSON */ }
      throw new ApiError(r.status, error);
    }
    return r;
  }
  const apiJson = async (path, method, body) => (await api(path, method, body)).json();

  /** Downloads an admin CSV through fetch (so the token stays in a header), then saves it. */
  async function download(path, filename) {
    const blob = await (await api(path)).blob();
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: filename });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    show('login');
    $('#login-error').textContent = message || '';
  }

  $('#login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = $('#token');
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = '';
    try {
      await apiJson('/admin/customers?limit=1');
      $('#login-error').textContent = '';
      await window.tollgate.onSignIn();
      route();
    } catch (err) {
      signOut(err instanceof Unauthorized ? 'That token was refused.' : `Cannot reach the admin API: ${err.message}`);
    }
  });
  $('#logout').addEventListener('click', () => signOut('Signed out.'));

  // ---- views ---------------------------------------------------------------

  function show(name) {
    for (const v of ['login', 'customers', 'customer', 'audit']) $(`#view-${v}`).hidden = v !== name;
    $('#logout').hidden = name === 'login';
    $('#nav').hidden = name === 'login';
    showError('');
  }

  function budgetBar(b, large) {
    // A prepaid wallet has no fixed limit: what was credited = spent + held + left.
    const prepaid = b.period === 'prepaid';
    const limit = prepaid ? b.used + b.reserved + b.remaining : b.limit;
    const pct = limit > 0 ? Math.min(100, (b.used / limit) * 100) : 0;
    const resPct = limit > 0 ? Math.min(100 - pct, (b.reserved / limit) * 100) : 0;
    const fill = el('div', { class: 'fill' });
    fill.style.width = `${pct}%`;
    const held = el('div', { class: 'held' });
    held.style.width = `${resPct}%`;
    const label = prepaid ? `${amount(b.remaining, b.unit)} prepaid balance left, ${amount(b.used, b.unit)} spent` : `${amount(b.used, b.unit)} / ${amount(b.limit, b.unit)} per ${b.period}`;
    return el('div', { class: `budget ${large ? 'large' : ''}`, dataset: { state: b.state }, title: `${label} (${b.source}${b.agent ? ' ' + b.agent : ''})` },
      el('div', { class: 'budget-label' }, el('span', { text: label }), b.state !== 'ok' ? el('span', { class: `badge ${b.state}`, text: STATE_TEXT[b.state] }) : null),
      el('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': Math.round(pct), 'aria-label': label }, fill, held));
  }

  function card(label, value, cls) {
    return el('div', { class: `card ${cls || ''}` }, el('div', { class: 'card-label', text: label }), el('div', { class: 'card-value', text: value }));
  }

  // Customer list ------------------------------------------------------------

  let customers = [];

  async function loadCustomers() {
    show('customers');
    const data = await apiJson('/admin/customers?limit=1000');
    customers = data.customers;
    renderCustomers();
  }

  function renderCustomers() {
    const q = $('#customer-search').value.trim().toLowerCase();
    const list = customers.filter((c) => !q || c.id.toLowerCase().includes(q));
    const tbody = $('#customer-table tbody');
    tbody.replaceChildren(...list.map((c) => el('tr', { class: `row-link state-${c.state}`, tabindex: 0, dataset: { customer: c.id }, onclick: () => { location.hash = `#/customer/${encodeURIComponent(c.id)}`; }, onkeydown: (e) => { if (e.key === 'Enter') location.hash = `#/customer/${encodeURIComponent(c.id)}`; } },
      el('td', {}, el('a', { href: `#/customer/${encodeURIComponent(c.id)}`, text: c.id })),
      el('td', { text: c.plan || '—' }),
      el('td', { class: 'budgets-col' }, c.budgets.length ? c.budgets.map((b) => budgetBar(b, false)) : el('span', { class: 'muted', text: 'no budget' })),
      el('td', { class: 'num', text: int(c.month.calls) }),
      el('td', { class: 'num', text: int(c.month.blocked) }),
      el('td', { class: 'num', text: usd(c.month.cost_usd) }),
      el('td', { class: 'num', text: usd(c.month.billed) }),
      el('td', { class: 'num', text: usd(c.month.margin_usd) }),
      el('td', {}, el('span', { class: `badge ${c.state}`, text: STATE_TEXT[c.state] })))));
    const sum = (f) => customers.reduce((s, c) => s + f(c), 0);
    $('#customer-summary').replaceChildren(
      card('Customers', int(customers.length)),
      card('Capped', int(customers.filter((c) => c.state === 'capped').length), 'capped'),
      card('Near cap', int(customers.filter((c) => c.state === 'near_cap').length), 'near_cap'),
      card('Billed this month', usd(sum((c) => c.month.billed))),
      card('Provider cost', usd(sum((c) => c.month.cost_usd))),
      card('Margin', usd(sum((c) => c.month.margin_usd))));
  }
  $('#customer-search').addEventListener('input', renderCustomers);

  // One customer -------------------------------------------------------------

  let current = null; // { id, filters, cursor }
  let chart = null;

  function filtersFromForm() {
    const f = new FormData($('#filters'));
    return { from: f.get('from'), to: f.get('to'), model: f.get('model'), agent: f.get('agent'), decision: f.get('decision') };
  }

  function qs(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) u.set(k, v);
    return u.toString();
  }

  async function loadCustomer(id) {
    show('customer');
    const form = $('#filters');
    if (!current || current.id !== id) {
      // No range given: the server answers its default (the 30 days ending
      // its today), and the form takes that range. "Today" is the server's,
      // whose clock decides periods, not this browser's.
      form.from.value = '';
      form.to.value = '';
      form.model.value = '';
      form.agent.value = '';
      form.decision.value = '';
    }
    current = { id, cursor: null };
    $('#customer-title').textContent = id;
    let f = filtersFromForm();
    const [list, summary] = await Promise.all([
      apiJson(`/admin/customers?${qs({ q: id })}`),
      apiJson(`/admin/reports/summary?${qs({ customer: id, from: f.from, to: f.to })}`),
    ]);
    form.from.value = summary.from;
    form.to.value = summary.to;
    f = filtersFromForm();
    const me = list.customers.find((c) => c.id === id);
    const state = $('#customer-state');
    state.className = `badge ${me ? me.state : 'ok'}`;
    state.textContent = me ? STATE_TEXT[me.state] : '';
    $('#customer-budgets').replaceChildren(...(me && me.budgets.length ? me.budgets.map((b) => budgetBar(b, true)) : [el('p', { class: 'muted', text: 'No budget applies to this customer.' })]));
    fillSelect($('#filters').model, summary.by_model.map((m) => m.model), f.model);
    fillSelect($('#filters').agent, summary.by_agent.map((a) => a.agent), f.agent);
    const t = summary.totals;
    $('#customer-totals').replaceChildren(
      card('Calls', int(t.calls)), card('Blocked', int(t.blocked), t.blocked ? 'capped' : ''),
      card('Tokens in / out', `${int(t.prompt_tokens)} / ${int(t.completion_tokens)}`),
      card('Provider cost', usd(t.cost_usd)), card('Billed', usd(t.billed)), card('Margin', usd(t.margin_usd)));
    breakdown('#by-model', 'Model', summary.by_model.map((m) => [m.model, m]));
    breakdown('#by-agent', 'Agent', summary.by_agent.map((a) => [a.agent, a]));
    breakdown('#by-tag', 'Tag', summary.by_tag.map((g) => [g.tag, g]));
    await Promise.all([drawChart(id, f, summary), loadUsage(true), window.tollgate.loadManage(id, me)]);
  }

  function fillSelect(select, values, selected) {
    const keep = new Set(values);
    if (selected) keep.add(selected);
    select.replaceChildren(el('option', { value: '', text: 'all' }), ...[...keep].sort().map((v) => el('option', { value: v, text: v })));
    select.value = selected || '';
  }

  function breakdown(sel, label, rows) {
    const table = $(sel);
    table.replaceChildren(
      el('thead', {}, el('tr', {}, el('th', { text: label }), el('th', { class: 'num', text: 'Calls' }), el('th', { class: 'num', text: 'Blocked' }), el('th', { class: 'num', text: 'Billed' }))),
      el('tbody', {}, rows.length ? rows.slice(0, 12).map(([k, c]) => el('tr', {}, el('td', { text: k }), el('td', { class: 'num', text: int(c.calls) }), el('td', { class: 'num', text: int(c.blocked) }), el('td', { class: 'num', text: usd(c.billed) })))
        : el('tr', {}, el('td', { colspan: 4, class: 'muted', text: 'nothing in this range' }))));
  }

  async function drawChart(id, f, summary) {
    // The daily index has one dimension per entry: a model filter wins over an agent filter.
    const dim = f.model ? { model: f.model } : f.agent ? { agent: f.agent } : {};
    const days = Object.keys(dim).length ? (await apiJson(`/admin/reports/daily?${qs({ customer: id, from: f.from, to: f.to, ...dim })}`)).days : summary.days;
    $('#chart-note').textContent = f.model && f.agent ? 'chart filtered by model only' : f.model ? `model ${f.model}` : f.agent ? `agent ${f.agent}` : 'all calls';
    const xs = days.map((d) => Date.parse(`${d.date}T00:00:00Z`) / 1000);
    const billed = days.map((d) => d.billed);
    const cost = days.map((d) => d.cost_usd);
    const blocked = days.map((d) => (d.blocked ? d.blocked : null)); // no dot on days without refusals
    const box = $('#chart');
    const width = Math.max(320, box.clientWidth - 8);
    const opts = {
      width,
      height: 260,
      cursor: { drag: { x: false, y: false } },
      scales: {
        // Half a day of room each side so the first and last bars are whole.
        x: { time: true, range: (u, min, max) => [min - 43200, max + 43200] },
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] },
        calls: { range: (u, min, max) => [0, Math.max(1, (max || 0) * 1.2)] },
      },
      series: [
        { value: (u, v) => (v == null ? '' : new Date(v * 1000).toISOString().slice(0, 10)) },
        { label: 'Billed', stroke: '#2563eb', fill: 'rgba(37, 99, 235, 0.35)', paths: uPlot.paths.bars({ size: [0.7, 48] }), points: { show: false }, value: (u, v) => usd(v) },
        { label: 'Provider cost', stroke: '#d97706', width: 2, points: { show: false }, value: (u, v) => usd(v) },
        { label: 'Blocked calls', scale: 'calls', stroke: '#dc2626', width: 0, points: { show: true, size: 7, fill: '#dc2626' }, paths: () => null, value: (u, v) => int(v) },
      ],
      axes: [
        {},
        { values: (u, vals) => vals.map((v) => usd(v)), size: 70 },
        { scale: 'calls', side: 1, grid: { show: false }, values: (u, vals) => vals.map((v) => (Number.isInteger(v) ? int(v) : '')) },
      ],
    };
    if (chart) chart.destroy();
    box.replaceChildren();
    chart = new uPlot(opts, [xs, billed, cost, blocked], box);
    box.dataset.ready = 'true';
    box.dataset.points = String(days.length);
  }

  async function loadUsage(reset) {
    const f = filtersFromForm();
    const tbody = $('#usage-table tbody');
    if (reset) {
      current.cursor = null;
      tbody.replaceChildren();
    }
    const page = await apiJson(`/admin/reports/usage?${qs({ customer: current.id, from: f.from, to: f.to, model: f.model, agent: f.agent, decision: f.decision, limit: 100, cursor: current.cursor })}`);
    for (const r of page.rows) {
      tbody.append(el('tr', { class: r.decision === 'blocked' ? 'blocked' : '' },
        el('td', { text: r.ts.replace('T', ' ').slice(0, 19) }),
        el('td', { class: 'mono', text: r.request_id.slice(0, 14) + '…', title: r.request_id }),
        el('td', { text: r.agent || '—' }),
        el('td', { class: 'mono', text: r.session ? (r.session.length > 16 ? r.session.slice(0, 16) + '…' : r.session) : '—', title: r.session || '' }),
        el('td', { text: r.model || r.model_requested || '—' }),
        el('td', { class: 'num', text: int(r.prompt_tokens) }),
        el('td', { class: 'num', text: int(r.completion_tokens) }),
        el('td', { class: 'num', text: usd(r.cost_usd) }),
        el('td', { class: 'num', text: usd(r.billed) }),
        el('td', {}, el('span', { class: `badge ${r.decision === 'blocked' ? 'capped' : 'ok'}`, text: r.decision })),
        el('td', { class: 'num', text: r.status }),
        el('td', { class: 'reason', text: r.reason || '' })));
    }
    current.cursor = page.next_cursor;
    $('#usage-more').hidden = !page.next_cursor;
    $('#usage-note').textContent = `${int(tbody.children.length)} rows shown${page.next_cursor ? ', more available' : ''}`;
  }

  $('#usage-more').addEventListener('click', () => loadUsage(false).catch(fail));
  $('#filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (current) loadCustomer(current.id).catch(fail);
  });
  $('#download-csv').addEventListener('click', () => {
    const f = filtersFromForm();
    download(`/admin/reports/usage?${qs({ customer: current.id, from: f.from, to: f.to, model: f.model, agent: f.agent, decision: f.decision, format: 'csv' })}`, `usage-${current.id}-${f.from}-${f.to}.csv`).catch(fail);
  });
  $('#download-report').addEventListener('click', () => {
    const f = filtersFromForm();
    download(`/admin/reports/summary?${qs({ customer: current.id, from: f.from, to: f.to, format: 'csv' })}`, `report-${current.id}-${f.from}-${f.to}.csv`).catch(fail);
  });

  window.addEventListener('resize', () => {
    if (chart && !$('#view-customer').hidden) chart.setSize({ width: Math.max(320, $('#chart').clientWidth - 8), height: 260 });
  });

  // ---- routing ---------------------------------------------------------------

  function fail(err) {
    if (err instanceof Unauthorized) signOut('Your session was refused; sign in again.');
    else showError(err.message || String(err));
  }

  function route() {
    if (!token()) return show('login');
    const m = /^#\/customer\/(.+)$/.exec(location.hash);
    const page = m ? loadCustomer(decodeURIComponent(m[1])) : location.hash === '#/audit' ? (show('audit'), window.tollgate.loadAudit()) : loadCustomers();
    page.catch(fail);
  }

  // What manage.js (the control-plane forms, loaded after this file) builds on.
  window.tollgate = { $, el, api, apiJson, ApiError, Unauthorized, fail, reloadCustomer: () => loadCustomer(current.id) };

  window.addEventListener('hashchange', route);
  // After every deferred script has run, so manage.js has added its part of window.tollgate.
  document.addEventListener('DOMContentLoaded', async () => {
    if (token()) await window.tollgate.onSignIn().catch(fail);
    route();
  });
})();
