// The campaign form: reloads the chosen email's thumbnail, counts who gets it as audiences
// and segments are ticked, shows a schedule time in UTC, and marks the review out of date
// while the campaign has unsaved changes.
document.addEventListener("DOMContentLoaded", () => {
  const number = new Intl.NumberFormat();

  for (const box of document.querySelectorAll("[data-email-thumbnail]")) {
    const input = document.getElementById(box.dataset.input);
    input.addEventListener("change", () => {
      box.hidden = !input.value;
      if (input.value) box.querySelector("iframe").src = box.dataset.urlTemplate.replace("/0/", `/${input.value}/`);
    });
  }

  const counter = document.querySelector("[data-campaign-reach]");
  if (counter) {
    const form = counter.closest("form");
    const names = ["audiences", "segments", "excluded_audiences", "excluded_segments"];
    let latest = 0;
    const update = async () => {
      const query = new URLSearchParams();
      for (const name of names) {
        for (const box of form.querySelectorAll(`input[name="${name}"]:checked`)) query.append(name, box.value);
      }
      if (!query.has("audiences") && !query.has("segments")) {
        counter.textContent = "Choose audiences or segments to see who gets it.";
        return;
      }
      const ticket = ++latest;
      counter.dataset.counting = "";
      try {
        const response = await fetch(`${counter.dataset.url}?${query}`, { headers: { Accept: "application/json" } });
        const data = await response.json();
        if (ticket !== latest) return; // a newer choice is being counted
        counter.innerHTML = "";
        const strong = document.createElement("strong");
        strong.textContent = number.format(data.reachable);
        counter.append(strong, ` will get it, ${number.format(data.suppressed)} suppressed`);
        if (!data.targeted) counter.append(" (the chosen audiences and segments hold nobody yet)");
      } finally {
        if (ticket === latest) delete counter.dataset.counting;
      }
    };
    form.addEventListener("change", (event) => { if (names.includes(event.target.name)) update(); });
    update();
  }

  const review = document.querySelector("[data-review]");
  const campaignForm = review && review.closest("form");
  if (campaignForm) {
    const stale = () => {
      review.querySelector("[data-review-stale]")?.removeAttribute("hidden");
      for (const button of review.querySelectorAll("[data-review-action]")) button.disabled = true;
    };
    // Inputs of the review belong to its own small forms, so only the campaign's fields count.
    for (const type of ["input", "change"]) {
      campaignForm.addEventListener(type, (event) => { if (event.target.form === campaignForm) stale(); });
    }
  }

  const when = document.querySelector("[data-schedule-when]");
  const utc = document.querySelector("[data-schedule-utc-value]");
  if (when && utc) {
    const zone = when.dataset.timeZone;
    const fields = { hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" };
    const wallClock = (ms) => {
      const parts = Object.fromEntries(
        new Intl.DateTimeFormat("en-US", { timeZone: zone, ...fields }).formatToParts(new Date(ms)).map((p) => [p.type, p.value]),
      );
      return Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute);
    };
    const show = () => {
      const match = /^(\d+)-(\d+)-(\d+)T(\d+):(\d+)/.exec(when.value);
      if (!match) return;
      const [, y, mo, d, h, mi] = match.map(Number);
      const asUtc = Date.UTC(y, mo - 1, d, h, mi);
      let instant = asUtc - (wallClock(asUtc) - asUtc);
      instant = asUtc - (wallClock(instant) - instant); // once more, for a daylight-saving change in between
      utc.textContent = new Date(instant).toISOString().slice(0, 16).replace("T", " ");
    };
    when.addEventListener("input", show);
  }
});
