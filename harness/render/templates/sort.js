// Click a column header to sort its table; click again to reverse. Empty cells stay last.
(function () {
  function key(row, column) {
    var cell = row.cells[column];
    return cell ? cell.getAttribute("data-sort") || "" : "";
  }
  function compare(a, b) {
    var x = Number(a), y = Number(b);
    if (isFinite(x) && isFinite(y)) { return x - y; }
    return a.localeCompare(b);
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, column) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var current = th.getAttribute("aria-sort");
        var order = current ? (current === "ascending" ? "descending" : "ascending") : th.getAttribute("data-first");
        Array.prototype.forEach.call(headers, function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", order);
        var sign = order === "ascending" ? 1 : -1;
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var ka = key(a, column), kb = key(b, column);
          if (ka === "" || kb === "") { return (ka === "") - (kb === "") || a.dataset.index - b.dataset.index; }
          return sign * compare(ka, kb) || a.dataset.index - b.dataset.index;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
