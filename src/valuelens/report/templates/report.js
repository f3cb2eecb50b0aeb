/* valuelens report behaviour. Model text is only ever inserted with textContent. */
(function () {
  "use strict";

  var $$ = function (selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fmt(x, digits) {
    return x === null || x === undefined || !isFinite(x) ? "—" : Number(x).toFixed(digits === undefined ? 3 : digits);
  }

  /* ---- switch groups: buttons or a <select> show the panels with the same group and key ---- */
  function showGroup(group, key) {
    $$('[data-group-panel="' + group + '"]').forEach(function (panel) {
      panel.hidden = panel.getAttribute("data-key") !== key;
    });
    $$('button[data-group="' + group + '"]').forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-key") === key));
    });
    $$('select[data-group="' + group + '"]').forEach(function (select) {
      if (select.value !== key) select.value = key;
    });
    initVisibleBrowsers();
  }

  function initGroups() {
    var groups = {};
    $$("[data-group]").forEach(function (control) {
      var group = control.getAttribute("data-group");
      if (control.tagName === "SELECT") {
        control.addEventListener("change", function () { showGroup(group, control.value); });
        if (!(group in groups)) groups[group] = control.value;
      } else {
        control.addEventListener("click", function () { showGroup(group, control.getAttribute("data-key")); });
        if (!(group in groups) || control.getAttribute("aria-pressed") === "true") {
          groups[group] = control.getAttribute("data-key");
        }
      }
    });
    Object.keys(groups).forEach(function (group) { showGroup(group, groups[group]); });
  }

  /* ---- sortable tables ---- */
  function initSortableTables() {
    $$("table.sortable").forEach(function (table) {
      $$("th[data-sort]", table).forEach(function (th, column) {
        var index = Array.prototype.indexOf.call(th.parentNode.children, th);
        th.tabIndex = 0;
        var sort = function () {
          var ascending = th.getAttribute("aria-sort") !== "ascending";
          $$("th", table).forEach(function (other) { other.removeAttribute("aria-sort"); });
          th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
          var numeric = th.getAttribute("data-sort") === "num";
          var body = table.tBodies[0];
          var rows = Array.prototype.slice.call(body.rows);
          rows.sort(function (a, b) {
            var x = cellKey(a.cells[index], numeric), y = cellKey(b.cells[index], numeric);
            if (numeric) {
              if (isNaN(x) && isNaN(y)) return 0;
              if (isNaN(x)) return 1;
              if (isNaN(y)) return -1;
              return ascending ? x - y : y - x;
            }
            return ascending ? String(x).localeCompare(String(y)) : String(y).localeCompare(String(x));
          });
          rows.forEach(function (row) { body.appendChild(row); });
        };
        th.addEventListener("click", sort);
        th.addEventListener("keydown", function (event) { if (event.key === "Enter") sort(); });
        void column;
      });
    });
  }

  function cellKey(cell, numeric) {
    if (!cell) return numeric ? NaN : "";
    var raw = cell.getAttribute("data-v");
    if (numeric) return raw === null ? parseFloat(cell.textContent) : parseFloat(raw);
    return cell.textContent.trim();
  }

  /* ---- item browser ---- */
  var DIRECTIONS = ["", "stated agree, chose negative", "stated disagree, chose positive"];

  function initVisibleBrowsers() {
    $$(".browser").forEach(function (browser) {
      if (browser.getAttribute("data-ready") || browser.closest("[hidden]")) return;
      initBrowser(browser);
    });
  }

  function initBrowser(browser) {
    var source = document.getElementById(browser.getAttribute("data-items"));
    if (!source) return;
    var data = JSON.parse(source.textContent);
    var strings = data.strings;
    var text = function (i) { return i === null || i === undefined || i < 0 ? "" : strings[i]; };
    var pageSize = parseInt(browser.getAttribute("data-page-size"), 10) || 20;
    var state = { page: 0, matches: data.items };
    var list = browser.querySelector('[data-role="list"]');
    var status = browser.querySelector('[data-role="status"]');
    var prev = browser.querySelector('[data-page="prev"]');
    var next = browser.querySelector('[data-page="next"]');
    var control = function (name) { return browser.querySelector('[data-filter="' + name + '"]'); };
    var haystacks = null;

    function searchText(item) {
      var parts = [item[7][0], item[7][1], item[8][0], item[8][1]].map(text);
      item[10].forEach(function (r) { parts.push(text(r[3]), text(r[5])); });
      item[9].forEach(function (r) { parts.push(text(r[3])); });
      return parts.join("\n").toLowerCase();
    }

    function applyFilters() {
      var country = control("country").value, topic = control("topic").value, value = control("value").value;
      var onlyMisaligned = control("misaligned").checked;
      var query = control("text").value.trim().toLowerCase();
      if (query && !haystacks) haystacks = data.items.map(searchText);
      state.matches = data.items.filter(function (item, i) {
        return (country === "" || item[0] === +country) && (topic === "" || item[1] === +topic) &&
          (value === "" || item[2] === +value) && (!onlyMisaligned || item[5] === 1) &&
          (!query || haystacks[i].indexOf(query) !== -1);
      });
      state.page = 0;
      render();
    }

    function render() {
      var total = state.matches.length;
      var pages = Math.max(1, Math.ceil(total / pageSize));
      state.page = Math.min(state.page, pages - 1);
      var start = state.page * pageSize;
      var shown = state.matches.slice(start, start + pageSize);
      list.textContent = "";
      if (!total) list.appendChild(el("li", "empty", "No pair matches these filters."));
      shown.forEach(function (item) { list.appendChild(renderItem(item)); });
      status.textContent = total
        ? (start + 1) + "–" + (start + shown.length) + " of " + total.toLocaleString("en") +
          " pairs · page " + (state.page + 1) + " of " + pages
        : "0 of " + data.items.length.toLocaleString("en") + " pairs";
      prev.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
    }

    // The side of a pair (1 = disagree / chose negative) as computed from the unrounded score;
    // item[at] is absent in pages written before it existed: fall back to the rounded score.
    function sideOf(item, at, score) {
      if (item.length > at) return item[at];
      return item[score] === null ? null : (item[score] >= 0.5 ? 1 : 0);
    }

    function renderAction(side, polarity, item) {
      var chosenPolarity = sideOf(item, 12, 4) === null ? null : (sideOf(item, 12, 4) ? "negative" : "positive");
      var box = el("div", "action " + polarity + (chosenPolarity === polarity ? " chosen" : ""));
      var head = el("h5");
      head.appendChild(el("span", null, polarity === "positive" ? "Positive action (expresses the value)" : "Negative action (resists the value)"));
      if (chosenPolarity === polarity) head.appendChild(el("span", "badge", "chosen"));
      box.appendChild(head);
      box.appendChild(el("p", "action-text", text(side[0]) || "(no action text)"));
      if (text(side[1])) box.appendChild(el("p", "expl", "Explanation: " + text(side[1])));
      if (text(side[2])) box.appendChild(el("p", "attr", "Attributions: " + text(side[2])));
      return box;
    }

    function rawCell(index) {
      var cell = el("td");
      if (index === null || index === undefined || index < 0) return cell;
      var details = el("details");
      details.appendChild(el("summary", null, "raw"));
      details.appendChild(el("pre", "raw", text(index)));
      cell.appendChild(details);
      return cell;
    }

    function responseTable(headers, rows, cells) {
      var table = el("table", "data");
      var headRow = el("tr");
      headers.forEach(function (h) { headRow.appendChild(el("th", null, h)); });
      table.appendChild(el("thead")).appendChild(headRow);
      var body = el("tbody");
      rows.forEach(function (r) {
        var tr = el("tr");
        cells(r).forEach(function (c) { tr.appendChild(typeof c === "object" ? c : el("td", null, c)); });
        body.appendChild(tr);
      });
      table.appendChild(body);
      return table;
    }

    function renderItem(item) {
      var li = el("li", "item" + (item[5] === 1 ? " misaligned dir-" + item[6] : ""));
      var head = el("div", "item-head");
      head.appendChild(el("span", "item-title", data.values[item[2]]));
      head.appendChild(el("span", "item-scenario", data.countryNames[item[0]] + " · " + data.topicNames[item[1]]));
      var stated = item[3];
      var statedSide = sideOf(item, 11, 3), chosenSide = sideOf(item, 12, 4);
      head.appendChild(el("span", "badge", "stated " + fmt(stated, 2) + (statedSide === null ? "" : statedSide ? " (disagree)" : " (agree)")));
      head.appendChild(el("span", "badge", chosenSide === null ? "no choice" : "chose " + (chosenSide ? "negative" : "positive") + (item[4] > 0 && item[4] < 1 ? " (" + fmt(item[4], 2) + ")" : "")));
      if (item[5] === 1) head.appendChild(el("span", "badge mis-" + item[6], "misaligned: " + DIRECTIONS[item[6]]));
      else if (item[5] === 0) head.appendChild(el("span", "badge ok", "aligned"));
      li.appendChild(head);
      var actions = el("div", "actions");
      actions.appendChild(renderAction(item[7], "positive", item));
      actions.appendChild(renderAction(item[8], "negative", item));
      li.appendChild(actions);
      if (item[9].length) {
        var st = el("details");
        st.appendChild(el("summary", null, "Stated answers (" + item[9].length + " variant" + (item[9].length === 1 ? "" : "s") + ")"));
        st.appendChild(el("div", "table-wrap")).appendChild(responseTable(["Variant", "Likert", "Parse", "Raw response"], item[9], function (r) {
          return [text(r[0]), r[1] !== null && Number.isInteger(r[1]) ? String(r[1]) : fmt(r[1], 2), text(r[2]), rawCell(r[3])];
        }));
        li.appendChild(st);
      }
      if (item[10].length) {
        var ac = el("details");
        ac.appendChild(el("summary", null, "Action choices (" + item[10].length + " variant" + (item[10].length === 1 ? "" : "s") + ")"));
        ac.appendChild(el("div", "table-wrap")).appendChild(responseTable(["Variant", "Option 1", "Choice", "Explanation", "Parse", "Raw response"], item[10], function (r) {
          return [text(r[0]), text(r[1]), text(r[2]), text(r[3]), text(r[4]), rawCell(r[5])];
        }));
        li.appendChild(ac);
      }
      return li;
    }

    var timer = null;
    ["country", "topic", "value", "misaligned"].forEach(function (name) {
      control(name).addEventListener("change", applyFilters);
    });
    control("text").addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(applyFilters, 180);
    });
    browser.querySelector("form").addEventListener("submit", function (event) { event.preventDefault(); });
    prev.addEventListener("click", function () { state.page -= 1; render(); list.scrollIntoView({ block: "nearest" }); });
    next.addEventListener("click", function () { state.page += 1; render(); list.scrollIntoView({ block: "nearest" }); });
    render();
    browser.setAttribute("data-ready", "1");
  }

  function init() {
    initSortableTables();
    initGroups();
    initVisibleBrowsers();
    document.documentElement.setAttribute("data-report-ready", "1");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
