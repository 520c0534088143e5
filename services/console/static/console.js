// A few touches over pages that work without scripts: confirm risky actions, and stop a double submit.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  // A download leaves the page in place: its buttons must stay usable.
  if (form.dataset.download !== undefined) {
    return;
  }
  // Disabled after this tick, so the clicked button's name and value are still sent with the form.
  setTimeout(() => form.querySelectorAll("button[type=submit]").forEach((button) => { button.disabled = true; }), 0);
});
