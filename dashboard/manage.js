// Tollgate dashboard, control-plane part: create a customer, change its plan
// and limits, issue and revoke keys, top up its wallet, read the audit log.
// Builds on app.js (window.tollgate). Every write goes to the admin API; a
// refusal is shown next to the field its message names, else under the form.
// A `read` admin token sees every page with the write controls disabled; if
// a write is tried anyway, the API's 403 is shown like any other refusal.
'use strict';

(() => {
  const t = window.tollgate;
  const { $, el, apiJson, ApiError, Unauthorized } = t;
  const enc = encodeURIComponent;
  /** A form's control by name (form.name / form.id would be the form's own properties). */
  const field = (form, name) => form.elements.namedItem(name);

  // ---- role ------------------------------------------------------------------

  let role = 'admin';

  /** Asks the API who this token is; a node without roles answers 404 and every token may write. */
  t.onSignIn = async () => {
    role = 'admin';
    let me = null;
    try {
      me = await apiJson('/admin/whoami');
      role = me.role === 'read' ? 'read' : 'admin';
    } catch (err) {
      if (err instanceof Unauthorized) throw err;
    }
    $('#whoami').textContent = me ? `${me.name} (${role === 'read' ? 'read only' : 'admin'})` : '';
    applyRole();
    loadPlans().catch(() => { /* plan names are a convenience: the field takes any text */ });
  };

  /** Disables every write control of the page for a read token (controls rendered later call writable()). */
  function applyRole() {
    document.body.classList.toggle('read-only', role === 'read');
    $('#new-customer-open').hidden = role === 'read';
    if (role === 'read') $('#new-customer').hidden = true;
    for (const f of document.querySelectorAll('form.form')) for (const c of f.elements) writable(c);
    for (const c of document.querySelectorAll('.write')) writable(c);
  }

  function writable(control) {
    if (control.type !== 'hidden') control.disabled = role === 'read';
    return control;
  }

  async function loadPlans() {
    const data = await apiJson('/admin/plans');
    const plans = Array.isArray(data) ? data : data.plans || [];
    $('#plan-options').replaceChildren(...plans.map((p) => el('option', { value: typeof p === 'string' ? p : p.name })));
  }

  // ---- errors next to their field ---------------------------------------------

  /** The field a problem names ("budgets[1].unit: ..." → budgets.1.unit), or null. */
  function fieldOf(message) {
    const m = /^([A-Za-z_][\w-]*(?:(?:\.[\w-]+)|\[\d+\])*):\s/.exec(message || '');
    return m ? m[1].replace(/\[(\d+)\]/g, '.$1') : null;
  }

  /** The input for `path` in `form`, or for the nearest enclosing path (budgets.0.unit → budgets.0 → budgets). */
  function inputFor(form, path) {
    const parts = path.split('.');
    for (let n = parts.length; n > 0; n--) {
      const e = form.querySelector(`[data-field="${CSS.escape(parts.slice(0, n).join('.'))}"]`);
      if (e) return e;
    }
    return null;
  }

  function clearErrors(form) {
    for (const e of form.querySelectorAll('.field-error')) e.textContent = '';
    for (const e of form.querySelectorAll('.field-error.added')) e.remove();
    for (const e of form.querySelectorAll('[aria-invalid]')) e.removeAttribute('aria-invalid');
    const fe = form.querySelector('.form-error');
    if (fe) fe.textContent = '';
    const ok = form.querySelector('.form-ok');
    if (ok) ok.textContent = '';
  }

  /** Shows a failed write: next to the field it names, else under the form with its status. */
  function showWriteError(form, err) {
    if (err instanceof Unauthorized) return t.fail(err);
    if (!(err instanceof ApiError)) {
      form.querySelector('.form-error').textContent = err.message || String(err);
      return;
    }
    if (err.status === 403 && role !== 'read') {
      role = 'read';
      applyRole();
    }
    // A validation refusal lists every problem ("path: problem"); each goes next to its field.
    const problems = Array.isArray(err.error.problems) && err.error.problems.length ? err.error.problems : [err.error.message];
    const unplaced = err.status === 403 ? problems : problems.filter((p) => !placeNextToField(form, p));
    if (!unplaced.length) return;
    const code = err.error.code || err.error.type;
    form.querySelector('.form-error').textContent = `${err.status}${code ? ` ${code}` : ''}: ${unplaced.join('; ')}`;
  }

  /** Puts a "path: problem" message under the input it names; false when the form has no such field. */
  function placeNextToField(form, problem) {
    const path = fieldOf(problem);
    const input = path && inputFor(form, path);
    if (!input) return false;
    input.setAttribute('aria-invalid', 'true');
    const holder = input.closest('.budget-row') || input.closest('label') || input;
    let slot = holder.querySelector(':scope > .field-error');
    if (!slot) {
      slot = el('p', { class: 'error field-error added' });
      holder.after(slot);
    }
    slot.dataset.for = path;
    slot.textContent = slot.textContent ? `${slot.textContent}; ${problem}` : problem;
    return true;
  }

  /** Runs a form's write with its submit button disabled meanwhile (a double click sends once). */
  function onSubmit(form, write) {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      clearErrors(form);
      try {
        await write(form);
      } catch (err) {
        showWriteError(form, err);
      } finally {
        writable(button);
      }
    });
  }

  // ---- budget rows (new customer, plan and limits) ----------------------------

  const rowBase = new WeakMap(); // row → the budget's other fields (thresholds, burst, enforce), kept on save

  function addBudgetRow(container, budget) {
    const row = $('#budget-row').content.firstElementChild.cloneNode(true);
    if (budget) {
      row.querySelector('[name=limit]').value = String(budget.limit);
      row.querySelector('[name=unit]').value = budget.unit;
      row.querySelector('[name=period]').value = budget.period;
      const base = { enforce: budget.enforce, burst: budget.burst };
      if (budget.thresholds && budget.thresholds.length) base.thresholds = budget.thresholds.map(({ at, action, model, notify }) => ({ at, action, ...(model ? { model } : {}), notify }));
      rowBase.set(row, base);
    }
    row.querySelector('.remove-budget').addEventListener('click', () => {
      row.remove();
      numberRows(container);
    });
    for (const c of row.querySelectorAll('input, select, button')) writable(c);
    container.append(row);
    numberRows(container);
  }

  /** data-field of each input follows its row's place, so an error on budgets.1.unit finds its input. */
  function numberRows(container) {
    container.querySelectorAll('.budget-row').forEach((row, i) => {
      row.dataset.field = `budgets.${i}`;
      for (const c of row.querySelectorAll('[name]')) c.dataset.field = `budgets.${i}.${c.name}`;
    });
  }

  function readBudgets(container) {
    return [...container.querySelectorAll('.budget-row')].map((row) => ({
      ...(rowBase.get(row) || {}),
      // Sent as typed when it is not a number, so the API's message names the field.
      limit: numberOrText(row.querySelector('[name=limit]').value),
      unit: row.querySelector('[name=unit]').value.trim(),
      period: row.querySelector('[name=period]').value,
    }));
  }

  const numberOrText = (v) => (/^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v.trim());

  for (const form of [$('#new-customer'), $('#plan-form')]) {
    form.querySelector('.add-budget').addEventListener('click', () => addBudgetRow(form.querySelector('.budget-rows')));
  }

  // ---- new customer -------------------------------------------------------------

  $('#new-customer-open').addEventListener('click', () => {
    const form = $('#new-customer');
    form.reset();
    clearErrors(form);
    form.querySelector('.budget-rows').replaceChildren();
    form.hidden = false;
    field(form, 'id').focus();
  });
  $('#new-customer .cancel').addEventListener('click', () => { $('#new-customer').hidden = true; });

  onSubmit($('#new-customer'), async (form) => {
    const body = { id: field(form, 'id').value.trim() };
    if (field(form, 'plan').value.trim()) body.plan = field(form, 'plan').value.trim();
    if (field(form, 'wallet').value.trim()) body.wallet = { currency: field(form, 'wallet').value.trim() };
    const budgets = readBudgets(form.querySelector('.budget-rows'));
    if (budgets.length) body.budgets = budgets;
    const created = await apiJson('/admin/customers', 'POST', body);
    form.hidden = true;
    location.hash = `#/customer/${enc(created.id || body.id)}`;
  });

  // ---- one customer: plan and limits, keys, wallet ------------------------------

  let customerId = null;
  /** The wallet the wallet panel shows: null the customer's, else a key id (a key's own wallet). */
  let walletKey = null;

  t.loadManage = async (id, listed) => {
    if (id !== customerId) {
      // Another customer: a key still shown belongs to the previous one; half-typed forms too.
      $('#new-key').hidden = true;
      $('#new-key-value').textContent = '';
      for (const f of ['#plan-form', '#reset-form', '#key-form', '#topup-form']) {
        $(f).reset();
        clearErrors($(f));
      }
      walletKey = null;
      newIdempotencyKey();
    }
    customerId = id;
    let view = null;
    try {
      view = await apiJson(`/admin/customers/${enc(id)}`);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
    }
    // A wallet is a budget of period "prepaid"; without one there is nothing to read or top up.
    const wallet = !!(view && (view.wallet || (view.budgets || []).some((b) => b.period === 'prepaid')));
    await Promise.all([loadPlanForm(view, listed), loadKeys(id), wallet || walletKey ? loadWallet(id) : noWallet()]);
  };

  /** Metadata as the form shows it: one name=value a line, sorted. */
  const metadataText = (m) => Object.keys(m || {}).sort().map((k) => `${k}=${m[k]}`).join('\n');

  /** The textarea's lines as metadata; a line without "=" is refused next to the field, before anything is sent. */
  function readMetadata(text) {
    const out = {};
    text.split('\n').map((l) => l.trim()).forEach((line, i) => {
      if (!line) return;
      const eq = line.indexOf('=');
      if (eq <= 0) throw new ApiError(400, { type: 'invalid_request_error', message: `metadata: line ${i + 1} is not name=value` });
      out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    });
    return out;
  }

  let loadedMetadata = '';

  function loadPlanForm(view, listed) {
    const form = $('#plan-form');
    field(form, 'plan').value = (view && view.plan) || (listed && listed.plan) || '';
    loadedMetadata = metadataText((view && view.metadata) || (listed && listed.metadata));
    field(form, 'metadata').value = loadedMetadata;
    const own = ((view && view.budgets) || []).filter((b) => b.source === 'customer' && !b.agent && b.period !== 'prepaid');
    const rows = form.querySelector('.budget-rows');
    rows.replaceChildren();
    for (const b of own) addBudgetRow(rows, b);
    const managed = view && (view.managed_by === 'config' || view.source === 'config');
    form.querySelector('.managed-note').textContent = managed ? 'defined in the config file: change it there' : '';
  }

  onSubmit($('#plan-form'), async (form) => {
    const body = { plan: field(form, 'plan').value.trim() || null, budgets: readBudgets(form.querySelector('.budget-rows')) };
    // Sent only when edited: the whole map replaces the stored one.
    const text = field(form, 'metadata').value;
    if (text.trim() !== loadedMetadata.trim()) body.metadata = readMetadata(text);
    await apiJson(`/admin/customers/${enc(customerId)}`, 'PATCH', body);
    await t.reloadCustomer(); // the budget bars above show the new limits, the form what was stored
    form.querySelector('.form-ok').textContent = 'Saved.';
  });

  onSubmit($('#reset-form'), async (form) => {
    const reason = field(form, 'reason').value.trim();
    if (!confirm(`Reset this period's spend of ${customerId}? Its budgets start again from 0.`)) return;
    await apiJson(`/admin/customers/${enc(customerId)}/budgets/reset`, 'POST', { reason });
    form.reset();
    await t.reloadCustomer(); // the budget bars show 0 used
    form.querySelector('.form-ok').textContent = 'Reset: this period starts again from 0.';
  });

  async function loadKeys(id) {
    const tbody = $('#keys-table tbody');
    $('#keys-panel .keys-error').textContent = '';
    let keys = [];
    try {
      keys = (await apiJson(`/admin/customers/${enc(id)}/keys`)).keys;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      $('#keys-panel .keys-error').textContent = err.message;
    }
    const when = (v) => (v ? String(v).slice(0, 10) : '—');
    tbody.replaceChildren(...(keys.length ? keys.map((k) => el('tr', { dataset: { keyId: k.key_id } },
      el('td', { class: 'mono', text: k.key_id }),
      el('td', { text: k.name || '—' }),
      el('td', { text: when(k.created_at), title: k.created_at }),
      el('td', { text: k.expires_at ? when(k.expires_at) : 'never', title: k.expires_at || '' }),
      el('td', { text: k.last_used_at ? when(k.last_used_at) : 'never', title: k.last_used_at || '' }),
      el('td', {}, k.wallet ? el('button', { type: 'button', class: 'secondary show-wallet', text: `Wallet (${k.wallet.currency})`, onclick: () => showKeyWallet(k.key_id) }) : '—'),
      el('td', {}, writable(el('button', { type: 'button', class: 'secondary danger revoke write', text: 'Revoke', onclick: (ev) => revoke(ev.currentTarget, k.key_id) })))))
      : [el('tr', {}, el('td', { colspan: 7, class: 'muted', text: 'No keys issued through the API.' }))]));
  }

  /** The wallet panel shows (and tops up) one key's own wallet until the customer's is asked for again. */
  async function showKeyWallet(keyId) {
    walletKey = keyId;
    newIdempotencyKey();
    await loadWallet(customerId);
  }
  $('#wallet-customer').addEventListener('click', () => {
    walletKey = null;
    newIdempotencyKey();
    return t.reloadCustomer();
  });

  /** Revoking takes a second click on the same button (within 5 s): a key cannot be un-revoked. */
  async function revoke(button, keyId) {
    if (button.dataset.armed !== 'true') {
      button.dataset.armed = 'true';
      button.textContent = 'Click again to revoke';
      setTimeout(() => { if (button.isConnected) { button.dataset.armed = ''; button.textContent = 'Revoke'; } }, 5000);
      return;
    }
    button.disabled = true;
    const slot = $('#keys-panel .keys-error');
    slot.textContent = '';
    try {
      await apiJson(`/admin/customers/${enc(customerId)}/keys/${enc(keyId)}`, 'DELETE');
      await loadKeys(customerId);
    } catch (err) {
      if (err instanceof Unauthorized) return t.fail(err);
      slot.textContent = err instanceof ApiError ? `${err.status}: ${err.message}` : err.message;
      writable(button);
    }
  }

  onSubmit($('#key-form'), async (form) => {
    const body = {};
    if (field(form, 'name').value.trim()) body.name = field(form, 'name').value.trim();
    // A date means the end of that day in UTC.
    if (field(form, 'expires_at').value) body.expires_at = `${field(form, 'expires_at').value}T23:59:59Z`;
    if (field(form, 'wallet').value.trim()) body.wallet = { currency: field(form, 'wallet').value.trim().toUpperCase() };
    const issued = await apiJson(`/admin/customers/${enc(customerId)}/keys`, 'POST', body);
    form.reset();
    $('#new-key-value').textContent = issued.key;
    $('#new-key-note').textContent = `Key id ${issued.key_id}${issued.expires_at ? `, expires ${issued.expires_at}` : ''}. Use it as the Authorization: Bearer key of the customer's calls.`;
    $('#new-key-copy').textContent = 'Copy';
    $('#new-key').hidden = false;
    await loadKeys(customerId);
  });

  $('#new-key-copy').addEventListener('click', async () => {
    const text = $('#new-key-value').textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // No clipboard API (a plain-http origin other than localhost): copy the selection instead.
      const range = document.createRange();
      range.selectNodeContents($('#new-key-value'));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      document.execCommand('copy');
    }
    $('#new-key-copy').textContent = 'Copied';
  });
  // The key leaves the page once the operator says it is stored.
  $('#new-key-done').addEventListener('click', () => {
    $('#new-key-value').textContent = '';
    $('#new-key').hidden = true;
  });

  // ---- wallet -------------------------------------------------------------------

  /**
   * One idempotency key per intended top-up: made when the form is shown, kept
   * while the same top-up is sent again (double click, retry after an error),
   * replaced once it has credited or the operator edits the form.
   */
  function newIdempotencyKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs a secure origin; this does not
    field($('#topup-form'), 'idempotency_key').value = `dash-${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  }
  $('#topup-form').addEventListener('input', newIdempotencyKey);

  const money = (m) => {
    if (!m || typeof m !== 'object') return '—';
    const a = typeof m.amount === 'number' ? m.amount.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 9 }) : String(m.amount);
    return `${a} ${m.currency || ''}`.trim();
  };

  const walletBase = (id) => (walletKey ? `/admin/customers/${enc(id)}/keys/${enc(walletKey)}` : `/admin/customers/${enc(id)}`);

  function noWallet() {
    $('#wallet-owner').textContent = '';
    $('#wallet-customer').hidden = true;
    $('#wallet-note').textContent = 'no wallet: give the customer or its plan a wallet currency to sell prepaid credit';
    $('#wallet-balance').textContent = '—';
    $('#topup-form').hidden = true;
    $('#wallet-table').hidden = true;
  }

  let walletReads = 0;

  async function loadWallet(id) {
    $('#topup-form').hidden = false;
    $('#wallet-table').hidden = false;
    const tbody = $('#wallet-table tbody');
    // Two top-ups in flight reload twice: only the read started last may draw (it saw both).
    const read = ++walletReads;
    let w = null;
    try {
      w = await apiJson(`${walletBase(id)}/wallet`);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (read === walletReads) $('#wallet-note').textContent = err.message;
    }
    if (read !== walletReads) return;
    $('#wallet-owner').textContent = walletKey ? `key ${walletKey}` : '';
    $('#wallet-customer').hidden = !walletKey;
    if (w) $('#wallet-note').textContent = '';
    $('#wallet-balance').textContent = w ? money(w.balance) : '—';
    const txs = (w && w.transactions) || [];
    // Newest first; debits are one line per day (with its call count).
    tbody.replaceChildren(...(txs.length ? [...txs].reverse().map((x) => el('tr', { class: `tx-${x.type}`, dataset: { tx: x.transaction_id }, title: x.transaction_id },
      el('td', { text: String(x.ts).replace('T', ' ').slice(0, 16) }),
      el('td', { text: x.calls ? `${x.type} (${x.calls} calls)` : x.type }),
      el('td', { class: 'num', text: money({ amount: x.amount, currency: x.currency }) }),
      el('td', { class: 'reason', text: x.original ? `${x.reference || ''} (${money(x.original)})`.trim() : x.reference || '—' })))
      : [el('tr', {}, el('td', { colspan: 4, class: 'muted', text: 'No transactions.' }))]));
  }

  onSubmit($('#topup-form'), async (form) => {
    const body = { amount: numberOrText(field(form, 'amount').value), idempotency_key: field(form, 'idempotency_key').value };
    if (field(form, 'currency').value.trim()) body.currency = field(form, 'currency').value.trim();
    if (field(form, 'reference').value.trim()) body.reference = field(form, 'reference').value.trim();
    const r = await apiJson(`${walletBase(customerId)}/credits`, 'POST', body);
    form.reset();
    newIdempotencyKey();
    $('#wallet-balance').textContent = money(r.balance);
    await t.reloadCustomer(); // the wallet's bar above and its transactions
  });

  // ---- audit log ------------------------------------------------------------------

  let audit = [];

  t.loadAudit = async () => {
    const data = await apiJson('/admin/audit');
    audit = data.entries || [];
    renderAudit();
  };

  const brief = (v) => {
    if (v === null || v === undefined) return '—';
    const s = JSON.stringify(v);
    return s.length > 120 ? `${s.slice(0, 119)}…` : s;
  };

  function renderAudit() {
    const q = $('#audit-search').value.trim().toLowerCase();
    // The search covers the change too: a key's entry names its customer in before/after only.
    const rows = audit.filter((e) => !q || [e.actor, e.action, e.target, JSON.stringify(e.before), JSON.stringify(e.after)].some((f) => String(f || '').toLowerCase().includes(q))).reverse(); // newest first
    $('#audit-table tbody').replaceChildren(...rows.map((e) => el('tr', {},
      el('td', { text: String(e.ts).replace('T', ' ').slice(0, 19) }),
      el('td', { text: e.actor }),
      el('td', { text: e.action }),
      el('td', { class: 'mono', text: typeof e.target === 'object' ? JSON.stringify(e.target) : String(e.target ?? '') }),
      el('td', { class: 'mono change', text: brief(e.before), title: JSON.stringify(e.before ?? null, null, 2) }),
      el('td', { class: 'mono change', text: brief(e.after), title: JSON.stringify(e.after ?? null, null, 2) }))));
    $('#audit-note').textContent = `${rows.length} of ${audit.length} entries, newest first`;
  }
  $('#audit-search').addEventListener('input', renderAudit);
})();
