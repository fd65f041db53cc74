// The dashboard page: reads the embedded JSON, applies the filters and
// draws the charts and tables. Data only ever reaches the page through
// textContent, option.text and Chart.js (which draws on a canvas).
(function () {
  'use strict';

  var DATA = JSON.parse(document.getElementById('dashboard-data').textContent);
  var META = DATA.meta;

  // objects turns a columnar table into an array of objects.
  function objects(t) {
    if (!t) { return []; }
    return t.rows.map(function (r) {
      var o = {};
      t.columns.forEach(function (c, i) { o[c] = r[i]; });
      return o;
    });
  }

  var campaigns = objects(DATA.campaigns);
  var clients = objects(DATA.clients);
  var daily = objects(DATA.daily);
  var steps = objects(DATA.steps);
  var snapshots = objects(DATA.snapshots);
  var leadStatus = objects(DATA.lead_status);
  var accounts = objects(DATA.accounts);
  var runs = objects(DATA.runs);
  var replyHours = DATA.reply_hours ? objects(DATA.reply_hours) : null;

  var campaignById = {};
  campaigns.forEach(function (c) { campaignById[String(c.campaign_id)] = c; });
  var clientName = {};
  clients.forEach(function (c) { clientName[String(c.client_id)] = c.name; });

  var C = {
    leads: '#9aa9b8', sent: '#4e79a7', opens: '#f28e2b', clicks: '#76b7b2', replies: '#59a14f',
    bounces: '#e15759', limit: '#1d2733', reputation: '#b07aa1', requests: '#4e79a7', throttled: '#e15759',
    duration: '#f28e2b'
  };
  var STATUS_ORDER = ['STARTED', 'INPROGRESS', 'COMPLETED', 'PAUSED', 'STOPPED', 'BLOCKED'];
  var STATUS_COLOR = {
    STARTED: '#76b7b2', INPROGRESS: '#4e79a7', COMPLETED: '#59a14f', PAUSED: '#edc948', STOPPED: '#e15759',
    BLOCKED: '#b07aa1', '(none)': '#bab0ac'
  };
  var EXTRA = ['#ff9da7', '#9c755f', '#86bcb6', '#d37295', '#a0cbe8', '#8cd17d'];

  // ---- formatting -------------------------------------------------------

  function isNum(v) { return typeof v === 'number' && isFinite(v); }
  function fmtInt(v) { return isNum(v) ? Math.round(v).toLocaleString('en-US') : '\u2014'; }
  // count: "1 reply", "2 replies", "1,204 emails" (many defaults to one + 's').
  function count(n, one, many) { return fmtInt(n) + ' ' + (n === 1 ? one : (many || one + 's')); }
  function fmtNum(v, d) { return isNum(v) ? v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : '\u2014'; }
  function fmtPct(v) { return isNum(v) ? fmtNum(v, 2) + '%' : '\u2014'; }
  function fmtText(v) { return v === null || v === undefined || v === '' ? '\u2014' : String(v); }
  function fmtBool(v) { return v === true ? 'yes' : v === false ? 'no' : '\u2014'; }
  function fmtTime(v) { return v ? String(v).replace('T', ' ').replace(/(:\d\d)(\.\d+)?Z$/, '$1 UTC') : '\u2014'; }
  function oneLine(s) { return String(s === null || s === undefined ? '' : s).replace(/\s+/g, ' ').trim(); }
  // short cuts a label for an axis by characters (not UTF-16 units, so an
  // emoji is never split); the full text is in the tooltip and the table.
  function short(s, n) {
    var a = Array.from(oneLine(s));
    return a.length > n ? a.slice(0, n - 1).join('') + '\u2026' : a.join('');
  }
  function campaignLabel(c) { return oneLine(c.name) || ('campaign ' + c.campaign_id); }
  function clientLabel(id) {
    if (id === null || id === undefined) { return 'no client'; }
    var n = clientName[String(id)];
    return n ? oneLine(n) : 'client ' + id;
  }
  function sum(xs, f) { var s = 0; xs.forEach(function (x) { var v = f(x); if (isNum(v)) { s += v; } }); return s; }
  function round2(v) { return Math.round(v * 100) / 100; }

  // ---- filters ----------------------------------------------------------

  var state = { client: '', campaign: '', since: '', until: '', sort: {} };
  var $ = function (id) { return document.getElementById(id); };

  function option(value, text) {
    var o = document.createElement('option');
    o.value = value;
    o.text = text;
    return o;
  }

  function clientMatches(id) {
    if (state.client === '') { return true; }
    if (state.client === 'none') { return id === null || id === undefined; }
    return String(id) === state.client;
  }

  // selected is the set of campaign ids (strings) the filters keep.
  function selected() {
    var s = new Set();
    campaigns.forEach(function (c) {
      var id = String(c.campaign_id);
      if (clientMatches(c.client_id) && (state.campaign === '' || state.campaign === id)) { s.add(id); }
    });
    return s;
  }
  function allSelected() { return state.client === '' && state.campaign === ''; }
  function single() { return state.campaign !== '' ? campaignById[state.campaign] : null; }

  function fillClients() {
    var sel = $('f-client');
    sel.appendChild(option('', 'All clients'));
    var ids = {};
    campaigns.forEach(function (c) { ids[c.client_id === null ? 'none' : String(c.client_id)] = true; });
    clients.forEach(function (c) { ids[String(c.client_id)] = true; });
    Object.keys(ids).filter(function (k) { return k !== 'none'; })
      .sort(function (a, b) { return clientLabel(a).localeCompare(clientLabel(b)); })
      .forEach(function (k) { sel.appendChild(option(k, clientLabel(k))); });
    if (ids.none) { sel.appendChild(option('none', 'No client')); }
  }

  function fillCampaigns() {
    var sel = $('f-campaign');
    while (sel.firstChild) { sel.removeChild(sel.firstChild); }
    sel.appendChild(option('', 'All campaigns'));
    var keep = false;
    campaigns.filter(function (c) { return clientMatches(c.client_id); })
      .sort(function (a, b) { return campaignLabel(a).localeCompare(campaignLabel(b)) || a.campaign_id - b.campaign_id; })
      .forEach(function (c) {
        sel.appendChild(option(String(c.campaign_id), short(campaignLabel(c), 60) + ' (#' + c.campaign_id + ')'));
        if (String(c.campaign_id) === state.campaign) { keep = true; }
      });
    if (!keep) { state.campaign = ''; }
    sel.value = state.campaign;
  }

  // ---- charts and tables ------------------------------------------------

  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
  Chart.defaults.font.size = 12;
  Chart.defaults.color = '#3b4956';
  Chart.defaults.plugins.legend.labels.boxWidth = 14;
  Chart.defaults.plugins.tooltip.mode = 'index';
  Chart.defaults.plugins.tooltip.intersect = false;

  var charts = {};

  // show draws a chart into card's canvas, or the card's empty message
  // when there is nothing to draw.
  function show(card, canvasId, config, emptyText) {
    var el = $(card);
    var box = el.querySelector('.chart-box');
    var empty = el.querySelector('.empty');
    if (charts[canvasId]) { charts[canvasId].destroy(); delete charts[canvasId]; }
    if (!config) {
      box.hidden = true;
      empty.hidden = false;
      empty.textContent = emptyText;
      return;
    }
    box.hidden = false;
    empty.hidden = true;
    charts[canvasId] = new Chart($(canvasId), config);
  }

  function axis(title, extra) {
    var a = {
      title: { display: true, text: title, font: { weight: '600' } },
      beginAtZero: true,
      ticks: { callback: function (v) { return isNum(v) ? v.toLocaleString('en-US') : v; } },
      grid: { color: '#eef1f4' }
    };
    return Object.assign(a, extra || {});
  }
  function catAxis(title, extra) {
    return Object.assign({ title: { display: true, text: title, font: { weight: '600' } }, grid: { display: false } }, extra || {});
  }

  // table renders rows into box as a sortable table. cols: {key, label,
  // fmt, num, cls}. The sort choice survives redraws.
  function table(boxId, cols, rows, opts) {
    opts = opts || {};
    var box = $(boxId);
    while (box.firstChild) { box.removeChild(box.firstChild); }
    if (!rows.length) { return; }
    var sort = state.sort[boxId] || { key: opts.sortKey || cols[0].key, dir: opts.sortDir || 'asc' };
    var col = cols.filter(function (c) { return c.key === sort.key; })[0] || cols[0];
    var val = col.sortValue || function (r) { return r[col.key]; };
    var sorted = rows.slice().sort(function (a, b) {
      var x = val(a), y = val(b), d;
      if (x === null || x === undefined) { d = (y === null || y === undefined) ? 0 : 1; return d; }
      if (y === null || y === undefined) { return -1; }
      d = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y));
      return sort.dir === 'asc' ? d : -d;
    });
    if (opts.caption) {
      var cap = document.createElement('div');
      cap.className = 'caption';
      cap.textContent = opts.caption;
      box.appendChild(cap);
    }
    var t = document.createElement('table');
    var head = t.createTHead().insertRow();
    cols.forEach(function (c) {
      var th = document.createElement('th');
      if (c.num) { th.className = 'num'; }
      th.setAttribute('aria-sort', c.key === sort.key ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none');
      var b = document.createElement('button');
      b.type = 'button';
      b.textContent = c.label;
      b.addEventListener('click', function () {
        var dir = (sort.key === c.key) ? (sort.dir === 'asc' ? 'desc' : 'asc') : (c.num ? 'desc' : 'asc');
        state.sort[boxId] = { key: c.key, dir: dir };
        table(boxId, cols, rows, opts);
      });
      th.appendChild(b);
      head.appendChild(th);
    });
    var body = t.createTBody();
    sorted.forEach(function (r) {
      var tr = body.insertRow();
      if (opts.rowClass) { tr.className = opts.rowClass(r); }
      cols.forEach(function (c) {
        var td = tr.insertCell();
        var v = r[c.key];
        td.textContent = (c.fmt || fmtText)(v, r);
        var cls = [];
        if (c.num) { cls.push('num'); }
        if (c.cls) { cls.push(c.cls); }
        if (v === null || v === undefined) { cls.push('null'); }
        td.className = cls.join(' ');
      });
    });
    box.appendChild(t);
  }

  // ---- daily trend ------------------------------------------------------

  var allDays = Array.from(new Set(daily.map(function (r) { return r.day; }))).sort();

  function dayRange() {
    if (!allDays.length) { return []; }
    var from = state.since && state.since > allDays[0] ? state.since : allDays[0];
    var to = state.until && state.until < allDays[allDays.length - 1] ? state.until : allDays[allDays.length - 1];
    var out = [];
    // Every calendar day, so that a day without numbers shows as a gap
    // rather than vanishing from the axis.
    for (var d = new Date(from + 'T00:00:00Z'); d.toISOString().slice(0, 10) <= to; d.setUTCDate(d.getUTCDate() + 1)) {
      out.push(d.toISOString().slice(0, 10));
      if (out.length > 3700) { break; }
    }
    return out;
  }

  function drawDaily(sel) {
    var days = dayRange();
    var one = single();
    var by = {};
    daily.forEach(function (r) {
      if (!sel.has(String(r.campaign_id))) { return; }
      var e = by[r.day] || (by[r.day] = { day: r.day, sent: 0, replies: 0, bounces: 0, unique_opens: null, rows: 0 });
      e.sent += r.sent; e.replies += r.replies; e.bounces += r.bounces; e.rows++;
      if (one) {
        e.unique_sent = r.unique_sent;
        e.open_rate_pct = r.open_rate_pct; e.reply_rate_pct = r.reply_rate_pct; e.bounce_rate_pct = r.bounce_rate_pct;
        e.unique_opens = r.open_rate_pct === null ? null : r.unique_opens;
      }
    });
    var rows = days.filter(function (d) { return by[d]; }).map(function (d) { return by[d]; });
    var sub = $('daily-sub');
    if (!rows.length) {
      sub.textContent = allDays.length ? 'No daily numbers for this selection and date range.' : '';
      show('card-daily', 'chart-daily', null, allDays.length
        ? 'No daily stats for the selected campaigns in this date range.'
        : 'This warehouse holds no daily stats yet (campaign_daily_stats is empty).');
      table('table-daily', [{ key: 'day', label: 'Day' }], []);
      return;
    }
    var totals = { sent: sum(rows, function (r) { return r.sent; }), replies: sum(rows, function (r) { return r.replies; }),
      bounces: sum(rows, function (r) { return r.bounces; }) };
    sub.textContent = days[0] + ' to ' + days[days.length - 1] + ' (' + count(days.length, 'day') + '): ' + count(totals.sent, 'email') +
      ' sent, ' + count(totals.replies, 'reply', 'replies') + ', ' + count(totals.bounces, 'bounce') +
      (one ? ' \u00b7 campaign \u201c' + short(campaignLabel(one), 60) + '\u201d' : ' \u00b7 ' + count(sel.size, 'campaign')) + '.';
    var pick = function (k) { return days.map(function (d) { return by[d] ? by[d][k] : null; }); };
    var sets = [
      { label: 'Sent (emails)', data: pick('sent'), borderColor: C.sent, backgroundColor: C.sent + '33', fill: true, yAxisID: 'y', cubicInterpolationMode: 'monotone' }
    ];
    if (one) {
      sets.push({ label: 'Unique opens (leads)', data: pick('unique_opens'), borderColor: C.opens, backgroundColor: C.opens, yAxisID: 'y', cubicInterpolationMode: 'monotone' });
    }
    sets.push(
      { label: 'Replies', data: pick('replies'), borderColor: C.replies, backgroundColor: C.replies, yAxisID: 'y2', cubicInterpolationMode: 'monotone' },
      { label: 'Bounces', data: pick('bounces'), borderColor: C.bounces, backgroundColor: C.bounces, yAxisID: 'y2', borderDash: [5, 4], cubicInterpolationMode: 'monotone' });
    sets.forEach(function (s) { s.pointRadius = days.length > 60 ? 0 : 3; s.spanGaps = false; s.borderWidth = 2; });
    show('card-daily', 'chart-daily', {
      type: 'line',
      data: { labels: days, datasets: sets },
      options: {
        scales: {
          x: catAxis('day sent (UTC)', { ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 16 } }),
          y: axis(one ? 'emails sent / unique leads opening, per day' : 'emails sent per day', { position: 'left' }),
          y2: axis('replies, bounces per day', { position: 'right', grid: { drawOnChartArea: false } })
        },
        plugins: { legend: { position: 'top' } }
      }
    });
    var cols = [
      { key: 'day', label: 'Day' },
      { key: 'sent', label: 'Sent', num: true, fmt: fmtInt }
    ];
    if (one) {
      cols.push({ key: 'unique_sent', label: 'Leads reached', num: true, fmt: fmtInt },
        { key: 'unique_opens', label: 'Unique opens', num: true, fmt: fmtInt });
    }
    cols.push({ key: 'replies', label: 'Replies', num: true, fmt: fmtInt }, { key: 'bounces', label: 'Bounces', num: true, fmt: fmtInt });
    if (one) {
      cols.push({ key: 'open_rate_pct', label: 'Open rate', num: true, fmt: fmtPct },
        { key: 'reply_rate_pct', label: 'Reply rate', num: true, fmt: fmtPct },
        { key: 'bounce_rate_pct', label: 'Bounce rate', num: true, fmt: fmtPct });
    } else {
      cols.push({ key: 'rows', label: 'Campaigns reporting', num: true, fmt: fmtInt });
    }
    table('table-daily', cols, rows, { sortKey: 'day', sortDir: 'desc' });
  }

  // ---- campaign funnel --------------------------------------------------

  function drawFunnel(sel) {
    var rows = campaigns.filter(function (c) { return sel.has(String(c.campaign_id)); });
    var bySends = rows.slice().sort(function (a, b) { return (b.emails_sent || 0) - (a.emails_sent || 0) || a.campaign_id - b.campaign_id; });
    var top = bySends.slice(0, META.top_campaigns);
    var charted = new Set(top.map(function (c) { return c.campaign_id; }));
    $('funnel-sub').textContent = rows.length > top.length
      ? 'The ' + top.length + ' of ' + rows.length + ' selected campaigns with the most emails sent; every campaign is in the table below.'
      : rows.length + (rows.length === 1 ? ' campaign' : ' campaigns') + ', by emails sent.';
    if (!top.length) {
      show('card-funnel', 'chart-funnel', null, 'No campaigns in this selection.');
    } else {
      $('funnel-box').style.height = Math.max(220, 26 * top.length + 110) + 'px';
      var f = function (k, gate) { return top.map(function (c) { return gate && !gate(c) ? null : c[k]; }); };
      show('card-funnel', 'chart-funnel', {
        type: 'bar',
        data: {
          labels: top.map(function (c) { return short(campaignLabel(c), 34); }),
          datasets: [
            { label: 'Leads', data: f('leads'), backgroundColor: C.leads },
            { label: 'Reached', data: f('leads_reached'), backgroundColor: C.sent },
            { label: 'Opened (unique)', data: f('unique_opens', function (c) { return c.open_tracking; }), backgroundColor: C.opens },
            { label: 'Clicked (unique)', data: f('unique_clicks'), backgroundColor: C.clicks },
            { label: 'Replied', data: f('replies'), backgroundColor: C.replies }
          ]
        },
        options: {
          indexAxis: 'y',
          datasets: { bar: { barPercentage: 0.9, categoryPercentage: 0.85 } },
          scales: {
            x: axis('leads (lifetime counters, latest snapshot)', { position: 'top' }),
            y: catAxis('campaign', { ticks: { autoSkip: false } })
          },
          plugins: {
            tooltip: {
              callbacks: {
                title: function (items) { var c = top[items[0].dataIndex]; return short(campaignLabel(c), 80) + ' (#' + c.campaign_id + ')'; },
                footer: function (items) { var c = top[items[0].dataIndex]; return c.open_tracking ? '' : 'open tracking off: opens not shown'; }
              }
            }
          }
        }
      });
    }
    table('table-funnel', [
      { key: 'name', label: 'Campaign', cls: 'name', fmt: function (v, r) { return v === null || v === '' ? 'campaign ' + r.campaign_id : String(v); } },
      { key: 'campaign_id', label: 'Id', num: true, fmt: fmtText },
      { key: 'status', label: 'Status' },
      { key: 'client_id', label: 'Client', fmt: clientLabel, sortValue: function (r) { return clientLabel(r.client_id); } },
      { key: 'leads', label: 'Leads', num: true, fmt: fmtInt },
      { key: 'emails_sent', label: 'Sent', num: true, fmt: fmtInt },
      { key: 'leads_reached', label: 'Reached', num: true, fmt: fmtInt },
      { key: 'unique_opens', label: 'Unique opens', num: true, fmt: function (v, r) { return r.open_tracking ? fmtInt(v) : 'tracking off'; } },
      { key: 'unique_clicks', label: 'Unique clicks', num: true, fmt: fmtInt },
      { key: 'replies', label: 'Replies', num: true, fmt: fmtInt },
      { key: 'bounces', label: 'Bounces', num: true, fmt: fmtInt },
      { key: 'unsubscribes', label: 'Unsubs', num: true, fmt: fmtInt },
      { key: 'open_rate_pct', label: 'Open rate', num: true, fmt: fmtPct },
      { key: 'reply_rate_pct', label: 'Reply rate', num: true, fmt: fmtPct },
      { key: 'reply_rate_basis', label: 'Reply basis' },
      { key: 'bounce_rate_pct', label: 'Bounce rate', num: true, fmt: fmtPct }
    ], rows, {
      sortKey: 'emails_sent', sortDir: 'desc',
      caption: rows.length > top.length
        ? 'All ' + rows.length + ' selected campaigns; the ' + top.length + ' charted above are marked. Click a heading to sort.'
        : 'Click a heading to sort.',
      rowClass: function (r) { return rows.length > top.length && charted.has(r.campaign_id) ? 'charted' : ''; }
    });
  }

  // ---- sequence steps ---------------------------------------------------

  function drawSteps(sel) {
    var one = single();
    var by = {};
    steps.forEach(function (r) {
      if (!sel.has(String(r.campaign_id))) { return; }
      var k = r.sequence_number === null ? 'none' : String(r.sequence_number);
      var e = by[k] || (by[k] = { step: r.sequence_number, sent: 0, opened: 0, replied: 0, basis: 0, bases: new Set(), subject: null, rate: null });
      e.sent += r.sent; e.opened += r.opened; e.replied += r.replied;
      e.basis += r.reply_rate_basis === 'opened' ? r.opened : r.sent;
      e.bases.add(r.reply_rate_basis);
      if (one) { e.subject = r.subject; e.rate = r.reply_rate_pct; }
    });
    var rows = Object.keys(by).map(function (k) { return by[k]; }).sort(function (a, b) {
      if (a.step === null) { return 1; } if (b.step === null) { return -1; } return a.step - b.step;
    });
    rows.forEach(function (e) {
      if (!one) { e.rate = e.basis > 0 ? round2(100 * e.replied / e.basis) : null; }
      e.basis_name = e.bases.size > 1 ? 'per campaign' : Array.from(e.bases)[0];
    });
    $('steps-sub').textContent = rows.length
      ? count(sum(rows, function (r) { return r.replied; }), 'reply', 'replies') + ' to ' + count(sum(rows, function (r) { return r.sent; }), 'email') +
        ' over ' + count(rows.length, 'step') + (one ? '' : ', ' + count(sel.size, 'campaign')) + '.'
      : '';
    if (!rows.length) {
      show('card-steps', 'chart-steps', null, 'No emails sent by the selected campaigns in the latest snapshot.');
      table('table-steps', [{ key: 'step', label: 'Step' }], []);
      return;
    }
    var label = function (r) { return r.step === null ? 'no step' : 'Step ' + r.step; };
    show('card-steps', 'chart-steps', {
      data: {
        labels: rows.map(label),
        datasets: [
          { type: 'line', label: 'Reply rate (%)', data: rows.map(function (r) { return r.rate; }), borderColor: C.opens,
            backgroundColor: C.opens, yAxisID: 'y2', borderWidth: 2, pointRadius: 4, order: 0 },
          { type: 'bar', label: 'Replies', data: rows.map(function (r) { return r.replied; }), backgroundColor: C.replies, yAxisID: 'y', order: 1 }
        ]
      },
      options: {
        scales: {
          x: catAxis('sequence step'),
          y: axis('replies (emails replied to)'),
          y2: axis('reply rate (%)', { position: 'right', grid: { drawOnChartArea: false },
            ticks: { callback: function (v) { return v + '%'; } } })
        }
      }
    });
    var cols = [{ key: 'step', label: 'Step', num: true, fmt: fmtText }];
    if (one) { cols.push({ key: 'subject', label: 'Subject', cls: 'name', fmt: function (v) { return v === null ? '\u2014' : v === '' ? '(same thread)' : String(v); } }); }
    cols.push(
      { key: 'sent', label: 'Sent', num: true, fmt: fmtInt },
      { key: 'opened', label: 'Opened', num: true, fmt: fmtInt },
      { key: 'replied', label: 'Replied', num: true, fmt: fmtInt },
      { key: 'rate', label: 'Reply rate', num: true, fmt: fmtPct },
      { key: 'basis_name', label: 'Rate over' });
    table('table-steps', cols, rows, { sortKey: 'step', sortDir: 'asc' });
  }

  // ---- lead status per snapshot -----------------------------------------

  function snapshotLabels() {
    var seen = {};
    return snapshots.map(function (s) {
      seen[s.snapshot_date] = (seen[s.snapshot_date] || 0) + 1;
      return seen[s.snapshot_date] > 1 ? s.snapshot_date + ' #' + seen[s.snapshot_date] : s.snapshot_date;
    });
  }

  function drawStatus(sel) {
    var labels = snapshotLabels();
    var counts = labels.map(function () { return {}; });
    var statuses = {};
    leadStatus.forEach(function (r) {
      if (!sel.has(String(r.campaign_id))) { return; }
      var st = r.status === null ? '(none)' : String(r.status);
      statuses[st] = true;
      counts[r.snapshot][st] = (counts[r.snapshot][st] || 0) + r.leads;
    });
    var names = Object.keys(statuses).sort(function (a, b) {
      var x = STATUS_ORDER.indexOf(a), y = STATUS_ORDER.indexOf(b);
      if (a === '(none)') { return 1; } if (b === '(none)') { return -1; }
      if (x < 0 && y < 0) { return a.localeCompare(b); } if (x < 0) { return 1; } if (y < 0) { return -1; }
      return x - y;
    });
    var rows = labels.map(function (l, i) {
      var r = { snapshot: l, run_id: snapshots[i].run_id, total: 0 };
      names.forEach(function (n) { r[n] = counts[i][n] || 0; r.total += r[n]; });
      return r;
    });
    var latest = rows[rows.length - 1];
    $('status-sub').textContent = snapshots.length + (snapshots.length === 1 ? ' snapshot' : ' snapshots') +
      (latest ? '; ' + fmtInt(latest.total) + ' leads in the latest.' : '.');
    if (!names.length) {
      show('card-status', 'chart-status', null, 'No leads in the selected campaigns in any snapshot.');
      table('table-status', [{ key: 'snapshot', label: 'Snapshot' }], []);
      return;
    }
    var extra = 0;
    show('card-status', 'chart-status', {
      type: 'bar',
      data: {
        labels: labels,
        datasets: names.map(function (n) {
          return { label: n, data: rows.map(function (r) { return r[n]; }), backgroundColor: STATUS_COLOR[n] || EXTRA[extra++ % EXTRA.length] };
        })
      },
      options: {
        datasets: { bar: { maxBarThickness: 80 } },
        scales: { x: catAxis('snapshot (run date)', { stacked: true }), y: axis('leads', { stacked: true }) }
      }
    });
    var cols = [{ key: 'snapshot', label: 'Snapshot' }];
    names.forEach(function (n) { cols.push({ key: n, label: n, num: true, fmt: fmtInt }); });
    cols.push({ key: 'total', label: 'Total', num: true, fmt: fmtInt }, { key: 'run_id', label: 'Run' });
    table('table-status', cols, rows, { sortKey: 'snapshot', sortDir: 'desc' });
  }

  // ---- email account health ---------------------------------------------

  function drawAccounts() {
    var rows = accounts.filter(function (a) { return clientMatches(a.client_id); });
    var top = rows.slice(0, META.top_accounts); // the report's order: worst reputation first
    var atLimit = rows.filter(function (a) { return a.at_limit === true; }).length;
    $('accounts-sub').textContent = rows.length
      ? rows.length + (rows.length === 1 ? ' mailbox' : ' mailboxes') + ', ' + atLimit + ' at their daily limit' +
        (rows.length > top.length ? '; the chart shows the ' + top.length + ' with the lowest warmup reputation.' : '.') +
        (state.campaign !== '' ? ' (The campaign filter does not apply here.)' : '')
      : '';
    if (!rows.length) {
      show('card-accounts', 'chart-accounts', null, 'No email accounts for this selection.');
      table('table-accounts', [{ key: 'from_email', label: 'Mailbox' }], []);
      return;
    }
    show('card-accounts', 'chart-accounts', {
      data: {
        labels: top.map(function (a) { return short(a.from_email, 24); }),
        datasets: [
          { type: 'line', label: 'Warmup reputation (%)', data: top.map(function (a) { return a.warmup_reputation; }), yAxisID: 'y2',
            showLine: false, pointRadius: 5, pointStyle: 'rectRot', borderColor: C.reputation, backgroundColor: C.reputation, order: 0 },
          { type: 'line', label: 'Daily limit', data: top.map(function (a) { return a.message_per_day; }), yAxisID: 'y',
            showLine: false, pointStyle: 'line', pointRadius: 12, borderWidth: 3, borderColor: C.limit, backgroundColor: C.limit, order: 1 },
          { type: 'bar', label: 'Sent today', data: top.map(function (a) { return a.daily_sent_count; }), yAxisID: 'y',
            backgroundColor: top.map(function (a) { return a.at_limit ? C.bounces : C.sent; }), order: 2 }
        ]
      },
      options: {
        scales: {
          x: catAxis('mailbox (worst reputation first)', { ticks: { autoSkip: false, maxRotation: 60, minRotation: 30 } }),
          y: axis('emails today'),
          y2: axis('warmup reputation (%)', { position: 'right', min: 0, max: 100, grid: { drawOnChartArea: false },
            ticks: { callback: function (v) { return v + '%'; } } })
        },
        plugins: {
          tooltip: { callbacks: { title: function (items) { return top[items[0].dataIndex].from_email; } } },
          legend: { labels: { generateLabels: function (chart) {
            var l = Chart.defaults.plugins.legend.labels.generateLabels(chart);
            l.forEach(function (x) { if (x.text === 'Sent today') { x.fillStyle = C.sent; } });
            return l;
          } } }
        }
      }
    });
    table('table-accounts', [
      { key: 'from_email', label: 'Mailbox' },
      { key: 'type', label: 'Type' },
      { key: 'client_id', label: 'Client', fmt: clientLabel, sortValue: function (r) { return clientLabel(r.client_id); } },
      { key: 'daily_sent_count', label: 'Sent today', num: true, fmt: fmtInt },
      { key: 'message_per_day', label: 'Daily limit', num: true, fmt: fmtInt },
      { key: 'daily_usage_pct', label: 'Usage', num: true, fmt: fmtPct },
      { key: 'warmup_status', label: 'Warmup' },
      { key: 'warmup_reputation', label: 'Reputation', num: true, fmt: function (v) { return isNum(v) ? fmtNum(v, 1) + '%' : '\u2014'; } },
      { key: 'warmup_spam_pct', label: 'Warmup spam', num: true, fmt: fmtPct },
      { key: 'connection_ok', label: 'SMTP+IMAP ok', fmt: fmtBool },
      { key: 'campaign_count', label: 'Campaigns', num: true, fmt: fmtInt }
    ], rows, { sortKey: 'warmup_reputation', sortDir: 'asc' });
  }

  // ---- replies by hour (email_events) -----------------------------------

  function drawHours(sel) {
    if (!replyHours) { return; }
    $('card-hours').hidden = false;
    var hours = [];
    for (var h = 0; h < 24; h++) { hours.push(0); }
    replyHours.forEach(function (r) {
      if (!allSelected() && !sel.has(String(r.campaign_id))) { return; }
      if (isNum(r.hour) && r.hour >= 0 && r.hour < 24) { hours[r.hour] += r.replies; }
    });
    var total = sum(hours, function (v) { return v; });
    $('hours-sub').textContent = count(total, 'reply', 'replies') + ' received by webhook' + (allSelected() ? '.' : ' for this selection.');
    if (!total) {
      show('card-hours', 'chart-hours', null, 'No reply events for this selection.');
      return;
    }
    show('card-hours', 'chart-hours', {
      type: 'bar',
      data: {
        labels: hours.map(function (v, i) { return (i < 10 ? '0' : '') + i + ':00'; }),
        datasets: [{ label: 'Replies', data: hours, backgroundColor: C.replies }]
      },
      options: { scales: { x: catAxis('hour of day (UTC)'), y: axis('replies') } }
    });
  }

  // ---- run history ------------------------------------------------------

  function drawRuns() {
    var rows = runs.slice().reverse(); // oldest first on the axis
    var failed = rows.filter(function (r) { return r.status !== 'succeeded'; }).length;
    $('runs-sub').textContent = rows.length + (rows.length === 1 ? ' run' : ' runs') +
      (failed ? ', ' + failed + ' not succeeded' : '') + '; newest on the right.';
    if (!rows.length) {
      show('card-runs', 'chart-runs', null, 'No runs recorded.');
      return;
    }
    // MM-DD hh:mm, with seconds only when two runs share a minute.
    var minute = function (r) { return String(r.started_at || '').slice(5, 16).replace('T', ' '); };
    var perMinute = {};
    rows.forEach(function (r) { perMinute[minute(r)] = (perMinute[minute(r)] || 0) + 1; });
    var lab = function (r) {
      return perMinute[minute(r)] > 1 ? String(r.started_at || '').slice(5, 19).replace('T', ' ') : minute(r);
    };
    show('card-runs', 'chart-runs', {
      data: {
        labels: rows.map(lab),
        datasets: [
          { type: 'line', label: 'Duration (s)', data: rows.map(function (r) { return r.duration_s; }), yAxisID: 'y2',
            borderColor: C.duration, backgroundColor: C.duration, borderWidth: 2, pointRadius: 4, order: 0 },
          { type: 'bar', label: 'Requests', data: rows.map(function (r) { return r.requests; }), backgroundColor: C.requests, yAxisID: 'y', order: 1 },
          { type: 'bar', label: '429 answers', data: rows.map(function (r) { return r.throttled; }), backgroundColor: C.throttled, yAxisID: 'y', order: 1 }
        ]
      },
      options: {
        datasets: { bar: { maxBarThickness: 40 } },
        scales: {
          x: catAxis('run start (UTC, MM-DD hh:mm)', { ticks: { maxRotation: 45 } }),
          y: axis('requests per run'),
          y2: axis('duration (s)', { position: 'right', grid: { drawOnChartArea: false } })
        },
        plugins: { tooltip: { callbacks: { footer: function (items) { var r = rows[items[0].dataIndex]; return 'status: ' + r.status; } } } }
      }
    });
    table('table-runs', [
      { key: 'started_at', label: 'Started', fmt: fmtTime },
      { key: 'status', label: 'Status' },
      { key: 'snapshot_date', label: 'Snapshot' },
      { key: 'duration_s', label: 'Duration (s)', num: true, fmt: function (v) { return fmtNum(v, 1); } },
      { key: 'requests', label: 'Requests', num: true, fmt: fmtInt },
      { key: 'throttled', label: '429s', num: true, fmt: fmtInt },
      { key: 'retries', label: 'Retries', num: true, fmt: fmtInt },
      { key: 'wait_s', label: 'Waited (s)', num: true, fmt: function (v) { return fmtNum(v, 1); } },
      { key: 'rows', label: 'Rows', num: true, fmt: fmtInt },
      { key: 'rejected', label: 'Rejected', num: true, fmt: fmtInt },
      { key: 'warnings', label: 'Warnings', num: true, fmt: fmtInt },
      { key: 'run_id', label: 'Run' },
      { key: 'error', label: 'Error', cls: 'name' }
    ], runs, { sortKey: 'started_at', sortDir: 'desc' });
  }

  // ---- page -------------------------------------------------------------

  function kpi(label, value) {
    var d = document.createElement('div');
    d.className = 'kpi';
    var v = document.createElement('div');
    v.className = 'v';
    v.textContent = value;
    var k = document.createElement('div');
    k.className = 'k';
    k.textContent = label;
    d.appendChild(v);
    d.appendChild(k);
    return d;
  }

  function drawKPIs(sel) {
    var rows = campaigns.filter(function (c) { return sel.has(String(c.campaign_id)); });
    var box = $('kpis');
    while (box.firstChild) { box.removeChild(box.firstChild); }
    var active = rows.filter(function (c) { return c.status === 'ACTIVE'; }).length;
    box.appendChild(kpi('campaigns (' + active + ' active)', fmtInt(rows.length)));
    box.appendChild(kpi('leads', fmtInt(sum(rows, function (c) { return c.leads; }))));
    box.appendChild(kpi('emails sent (lifetime)', fmtInt(sum(rows, function (c) { return c.emails_sent; }))));
    box.appendChild(kpi('replies (lifetime)', fmtInt(sum(rows, function (c) { return c.replies; }))));
    box.appendChild(kpi('bounces (lifetime)', fmtInt(sum(rows, function (c) { return c.bounces; }))));
    var one = single();
    if (one) {
      box.appendChild(kpi('reply rate (over ' + (one.reply_rate_basis === 'leads_reached' ? 'leads reached' : 'unique opens') + ')', fmtPct(one.reply_rate_pct)));
    }
  }

  function draw() {
    document.body.dataset.ready = '0';
    var sel = selected();
    drawKPIs(sel);
    drawDaily(sel);
    drawFunnel(sel);
    drawSteps(sel);
    drawStatus(sel);
    drawAccounts();
    drawHours(sel);
    drawRuns();
    document.body.dataset.ready = '1';
  }

  function init() {
    var snap = 'Snapshot ' + fmtText(META.snapshot_date) + ' (run ' + fmtText(META.run_id) + ')';
    $('meta').textContent = snap + ' \u00b7 ' + META.snapshots + (META.snapshots === 1 ? ' snapshot' : ' snapshots') +
      ' kept \u00b7 generated ' + fmtTime(META.generated_at) + (META.warehouse ? ' from ' + META.warehouse : '');
    document.title = 'SmartLead dashboard \u2014 ' + fmtText(META.snapshot_date);
    $('footer').textContent = 'smartlead-etl ' + fmtText(META.version) + ' dashboard \u00b7 charts by Chart.js ' + Chart.version +
      ' (MIT) \u00b7 every script, style and number is inside this file; it fetches nothing.';
    fillClients();
    fillCampaigns();
    if (allDays.length) {
      ['f-since', 'f-until'].forEach(function (id) { $(id).min = allDays[0]; $(id).max = allDays[allDays.length - 1]; });
    }
    $('f-client').addEventListener('change', function (e) { state.client = e.target.value; fillCampaigns(); draw(); });
    $('f-campaign').addEventListener('change', function (e) { state.campaign = e.target.value; draw(); });
    $('f-since').addEventListener('change', function (e) { state.since = e.target.value; draw(); });
    $('f-until').addEventListener('change', function (e) { state.until = e.target.value; draw(); });
    $('f-reset').addEventListener('click', function () {
      state.client = ''; state.campaign = ''; state.since = ''; state.until = '';
      $('f-client').value = ''; $('f-since').value = ''; $('f-until').value = '';
      fillCampaigns();
      draw();
    });
    draw();
  }

  init();
}());
