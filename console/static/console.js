// Atiende console: the little behaviour htmx does not give by itself.
// After an htmx swap, move the keyboard focus to what changed (the outcome of an action, the
// result count), so keyboard and screen-reader users land where the answer is. Live updates
// (the bell, marked data-live) never move the focus.
document.addEventListener("htmx:afterSwap", function (event) {
  var target = event.detail.target;
  if (!target || target.closest("[data-live]")) { return; }
  var region = document.getElementById(target.id) || target; // outerHTML swaps replace the target
  var focus = region.querySelector("[data-focus]") || region;
  if (!focus.hasAttribute("tabindex") && !focus.matches("a, button, input, select, textarea")) {
    focus.setAttribute("tabindex", "-1");
  }
  focus.focus();
});
