// The gallery's filters (defect kind, ground truth) and its "3D" buttons; and
// `report.html?only=SECTION_ID` shows that one section (for screenshots and links).
(function () {
  'use strict';
  var kind = document.getElementById('kind-filter');
  var truth = document.getElementById('truth-filter');
  var count = document.getElementById('gallery-count');
  var cards = Array.prototype.slice.call(document.querySelectorAll('#gallery .card'));
  function apply() {
    var k = kind ? kind.value : '', t = truth ? truth.value : '', shown = 0;
    cards.forEach(function (c) {
      var ok = (!k || c.getAttribute('data-kind') === k) && (!t || c.getAttribute('data-truth') === t);
      c.hidden = !ok;
      if (ok) shown++;
    });
    if (count) count.textContent = shown + ' of ' + cards.length + ' shown';
  }
  if (kind) kind.addEventListener('change', apply);
  if (truth) truth.addEventListener('change', apply);
  Array.prototype.forEach.call(document.querySelectorAll('button.show3d'), function (b) {
    b.addEventListener('click', function () {
      if (window.po3adShowScan) window.po3adShowScan(Number(b.getAttribute('data-view')));
    });
  });
  apply();
  var only = /[?&]only=([\w-]+)/.exec(location.search);
  if (only && document.getElementById(only[1])) {
    Array.prototype.forEach.call(document.querySelectorAll('body > section'), function (sec) {
      sec.hidden = sec.id !== only[1];
    });
  }
  var html = document.documentElement;
  html.setAttribute('data-ready-ms', String(Math.round(performance.now())));
  html.setAttribute('data-ready', '1');
})();
